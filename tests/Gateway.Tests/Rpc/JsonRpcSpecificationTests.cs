namespace Gateway.Tests.Rpc;

/// <summary>Every example of the specification's "Examples" section (https://www.jsonrpc.org/specification#examples).</summary>
public sealed class JsonRpcSpecificationTests
{
    private readonly SpecificationMethods _methods = new();

    private Task<JsonRpcTestHost> StartAsync() => JsonRpcTestHost.StartAsync(_methods.Table);

    [Theory]
    [InlineData("""{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}""", """{"jsonrpc": "2.0", "result": 19, "id": 1}""")]
    [InlineData("""{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}""", """{"jsonrpc": "2.0", "result": -19, "id": 2}""")]
    public async Task Call_with_positional_parameters_returns_the_result_with_the_id(string request, string expected)
    {
        await using var host = await StartAsync();

        JsonRpcAssert.Matches(expected, await host.CallAsync(request));
    }

    [Theory]
    [InlineData("""{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}""", """{"jsonrpc": "2.0", "result": 19, "id": 3}""")]
    [InlineData("""{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}""", """{"jsonrpc": "2.0", "result": 19, "id": 4}""")]
    public async Task Call_with_named_parameters_returns_the_result_with_the_id(string request, string expected)
    {
        await using var host = await StartAsync();

        JsonRpcAssert.Matches(expected, await host.CallAsync(request));
    }

    [Theory]
    [InlineData("""{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}""", "update")]
    [InlineData("""{"jsonrpc": "2.0", "method": "foobar"}""", null)]
    public async Task Notification_runs_and_returns_204_without_body(string request, string? ran)
    {
        await using var host = await StartAsync();

        using var response = await host.PostAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        Assert.Equal(ran is null ? [] : [ran], _methods.Calls);
    }

    [Fact]
    public async Task Call_of_a_non_existent_method_is_method_not_found()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "foobar", "id": "1"}""");

        JsonRpcAssert.Matches("""{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}""", response);
        JsonRpcAssert.ErrorData(response, -32601, "method_not_found");
    }

    [Fact]
    public async Task Call_with_invalid_json_is_a_parse_error()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]""");

        JsonRpcAssert.Matches("""{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}""", response);
        JsonRpcAssert.ErrorData(response, -32700, "parse_error");
    }

    [Fact]
    public async Task Call_with_an_invalid_request_object_is_invalid_request()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": 1, "params": "bar"}""");

        JsonRpcAssert.Matches("""{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}""", response);
        JsonRpcAssert.ErrorData(response, -32600, "invalid_request");
    }

    [Fact]
    public async Task Batch_with_invalid_json_is_one_parse_error()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("""
            [
              {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
              {"jsonrpc": "2.0", "method"
            ]
            """);

        JsonRpcAssert.Matches("""{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}""", response);
        Assert.Empty(_methods.Calls);
    }

    [Fact]
    public async Task Empty_array_is_one_invalid_request()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("[]");

        JsonRpcAssert.Matches("""{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}""", response);
    }

    [Fact]
    public async Task Non_empty_invalid_batch_is_an_array_with_one_invalid_request()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("[1]");

        JsonRpcAssert.Matches("""[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]""", response);
    }

    [Fact]
    public async Task Invalid_batch_has_one_invalid_request_per_entry()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("[1,2,3]");

        JsonRpcAssert.Matches("""
            [
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
            ]
            """, response);
    }

    [Fact]
    public async Task Mixed_batch_answers_every_call_in_request_order_and_runs_the_notification()
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync("""
            [
              {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
              {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
              {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
              {"foo": "boo"},
              {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
              {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
            ]
            """);

        JsonRpcAssert.Matches("""
            [
              {"jsonrpc": "2.0", "result": 7, "id": "1"},
              {"jsonrpc": "2.0", "result": 19, "id": "2"},
              {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
              {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
              {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
            ]
            """, response);
        Assert.Equal(["sum", "notify_hello", "subtract", "get_data"], _methods.Calls);
    }

    [Fact]
    public async Task Notification_only_batch_returns_204_without_body()
    {
        await using var host = await StartAsync();

        using var response = await host.PostAsync("""
            [
              {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
              {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
            ]
            """);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        Assert.Equal(["notify_sum", "notify_hello"], _methods.Calls);
    }
}
