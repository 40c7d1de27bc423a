using Microsoft.Extensions.Options;

namespace Gateway.Tests.Rpc;

/// <summary>The protocol beyond the specification's examples: ids, request checks, limits and the HTTP edges.</summary>
public sealed class JsonRpcProtocolTests
{
    private readonly SpecificationMethods _methods = new();

    private Task<JsonRpcTestHost> StartAsync(IReadOnlyDictionary<string, string?>? settings = null) =>
        JsonRpcTestHost.StartAsync(_methods.Table, settings);

    [Theory]
    [InlineData("\"abc\"")]
    [InlineData("\"\"")]
    [InlineData("\"\\u00e9\"")]
    [InlineData("1")]
    [InlineData("1.50")]
    [InlineData("-0")]
    [InlineData("1e3")]
    [InlineData("12345678901234567890")]
    [InlineData("null")]
    public async Task Id_is_echoed_exactly_as_sent(string id)
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": {{id}}}""");

        Assert.Equal(id, response.GetProperty("id").GetRawText());
        Assert.Equal(2, response.GetProperty("result").GetInt32());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[1]")]
    [InlineData("true")]
    public async Task Id_of_another_type_is_invalid_request_with_a_null_id(string id)
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": {{id}}}""");

        JsonRpcAssert.ErrorData(response, -32600, "invalid_request");
        Assert.Equal(JsonValueKind.Null, response.GetProperty("id").ValueKind);
        Assert.Empty(_methods.Calls);
    }

    [Theory]
    [InlineData("""{"method": "subtract", "params": [3, 1], "id": 7}""")]
    [InlineData("""{"jsonrpc": "1.0", "method": "subtract", "params": [3, 1], "id": 7}""")]
    [InlineData("""{"jsonrpc": 2.0, "method": "subtract", "params": [3, 1], "id": 7}""")]
    [InlineData("""{"jsonrpc": "2.0", "params": [3, 1], "id": 7}""")]
    [InlineData("""{"jsonrpc": "2.0", "method": null, "id": 7}""")]
    [InlineData("""{"jsonrpc": "2.0", "method": "subtract", "params": null, "id": 7}""")]
    [InlineData("""{"jsonrpc": "2.0", "method": "subtract", "params": 3, "id": 7}""")]
    public async Task Malformed_request_with_a_valid_id_is_invalid_request_echoing_the_id(string request)
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync(request);

        JsonRpcAssert.ErrorData(response, -32600, "invalid_request");
        Assert.Equal(7, response.GetProperty("id").GetInt32());
        Assert.Empty(_methods.Calls);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("\"subtract\"")]
    [InlineData("null")]
    public async Task Body_that_is_neither_object_nor_array_is_one_invalid_request(string body)
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync(body);

        JsonRpcAssert.Matches("""{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}""", response);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,],}")]
    public async Task Empty_or_lenient_json_is_a_parse_error(string body)
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync(body);

        JsonRpcAssert.ErrorData(response, -32700, "parse_error");
    }

    [Theory]
    [InlineData("rpc.discover")]
    [InlineData("Subtract")]
    public async Task Reserved_or_differently_cased_method_name_is_method_not_found(string method)
    {
        await using var host = await StartAsync();

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "{{method}}", "params": [3, 1], "id": 1}""");

        JsonRpcAssert.ErrorData(response, -32601, "method_not_found");
    }

    [Fact]
    public async Task Exception_in_a_method_is_internal_error_without_its_text_and_the_batch_goes_on()
    {
        await using var host = await StartAsync();

        using var response = await host.PostAsync("""
            [
              {"jsonrpc": "2.0", "method": "fail", "id": 1},
              {"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": 2}
            ]
            """);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("hunter2", body, StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(InvalidOperationException), body, StringComparison.Ordinal);
        var answers = JsonDocument.Parse(body).RootElement;
        JsonRpcAssert.Matches("""
            [
              {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1},
              {"jsonrpc": "2.0", "result": 2, "id": 2}
            ]
            """, answers);
        JsonRpcAssert.ErrorData(answers[0], -32603, "internal_error");
    }

    [Fact]
    public async Task Failing_notification_still_gets_no_answer()
    {
        await using var host = await StartAsync();

        using var response = await host.PostAsync("""{"jsonrpc": "2.0", "method": "fail"}""");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(["fail"], _methods.Calls);
    }

    [Fact]
    public async Task Batch_over_the_limit_is_one_batch_too_large_error_and_runs_nothing()
    {
        await using var host = await StartAsync(new Dictionary<string, string?> { ["JsonRpc:MaxBatchSize"] = "2" });
        const string Call = """{"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": 1}""";

        var atLimit = await host.CallAsync($"[{Call},{Call}]");
        var overLimit = await host.CallAsync($"[{Call},{Call},{Call}]");

        Assert.Equal(2, atLimit.GetArrayLength());
        var data = JsonRpcAssert.ErrorData(overLimit, -32600, "batch_too_large");
        Assert.Contains("at most 2", data.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, overLimit.GetProperty("id").ValueKind);
        Assert.Equal(2, _methods.Calls.Count);
    }

    [Fact]
    public async Task Batch_limit_below_one_fails_at_start()
    {
        await Assert.ThrowsAsync<OptionsValidationException>(() =>
            StartAsync(new Dictionary<string, string?> { ["JsonRpc:MaxBatchSize"] = "0" }));
    }

    [Fact]
    public async Task Text_body_is_415_problem()
    {
        await using var host = await StartAsync();

        using var response = await host.PostAsync("""{"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": 1}""",
            contentType: "text/plain");

        await Problems.ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Empty(_methods.Calls);
    }

    [Fact]
    public async Task Caller_without_a_token_is_401_problem_before_any_method_runs()
    {
        await using var host = await StartAsync();

        using var response = await host.PostAsync("""{"jsonrpc": "2.0", "method": "subtract", "params": [3, 1], "id": 1}""",
            scopes: null);

        await Problems.ReadProblemAsync(response, HttpStatusCode.Unauthorized, "authentication_required");
        Assert.Empty(_methods.Calls);
    }
}
