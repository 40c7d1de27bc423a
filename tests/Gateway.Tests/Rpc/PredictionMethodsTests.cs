using Gateway.Tests.Hosting;

namespace Gateway.Tests.Rpc;

/// <summary><c>predict</c> and <c>listModels</c> against a fake python-inference.</summary>
public sealed class PredictionMethodsTests
{
    [Fact]
    public async Task Predict_by_name_returns_the_rest_prediction_response()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""
            {"jsonrpc": "2.0", "method": "predict", "params": {"model": "sentiment", "inputs": ["great", "awful"], "extra": 1}, "id": 1}
            """);

        JsonRpcAssert.Matches("""
            {"jsonrpc": "2.0", "id": 1, "result": {"model": "sentiment", "version": "1.0.0",
              "predictions": [{"label": "positive", "score": 0.75}, {"label": "positive", "score": 0.75}]}}
            """, response);
        var request = Assert.Single(host.Inference.Requests);
        Assert.Equal(["great", "awful"], request.Inputs!.Select(input => input.GetString()));
    }

    [Fact]
    public async Task Predict_by_position_takes_model_then_inputs()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": ["iris", [[5.1, 3.5, 1.4, 0.2]]], "id": 1}""");

        Assert.Equal("iris", response.GetProperty("result").GetProperty("model").GetString());
        Assert.Equal("iris", Assert.Single(host.Inference.Requests).Model);
    }

    [Fact]
    public async Task Predict_without_a_model_uses_the_configured_default_model()
    {
        await using var host = await JsonRpcTestHost.StartAsync(
            settings: new Dictionary<string, string?> { ["Inference:DefaultModel"] = "iris" });

        await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": {"inputs": [[1, 2, 3, 4]]}, "id": 1}""");

        Assert.Equal("iris", Assert.Single(host.Inference.Requests).Model);
    }

    [Fact]
    public async Task Predict_without_inputs_is_invalid_params_naming_the_field()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": {"model": "sentiment"}, "id": 1}""");

        var data = JsonRpcAssert.ErrorData(response, -32602, "validation_failed");
        Assert.Equal(400, data.GetProperty("status").GetInt32());
        Assert.True(data.GetProperty("errors").TryGetProperty("inputs", out _));
        Assert.Empty(host.Inference.Requests);
    }

    [Fact]
    public async Task Predict_with_wrongly_typed_params_is_invalid_params_naming_each_field()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": {"model": 5, "inputs": "great"}, "id": 1}""");

        var errors = JsonRpcAssert.ErrorData(response, -32602, "validation_failed").GetProperty("errors");
        Assert.Equal(["inputs", "model"], errors.EnumerateObject().Select(member => member.Name).Order(StringComparer.Ordinal));
        Assert.Empty(host.Inference.Requests);
    }

    [Fact]
    public async Task Predict_with_more_inputs_than_allowed_is_invalid_params_batch_too_large()
    {
        await using var host = await JsonRpcTestHost.StartAsync(
            settings: new Dictionary<string, string?> { ["Inference:MaxBatchSize"] = "2" });

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": ["sentiment", ["a", "b", "c"]], "id": 1}""");

        JsonRpcAssert.ErrorData(response, -32602, "batch_too_large");
    }

    [Fact]
    public async Task Predict_with_a_text_over_the_length_limit_is_invalid_params_naming_the_input()
    {
        await using var host = await JsonRpcTestHost.StartAsync(
            settings: new Dictionary<string, string?> { ["Inference:MaxTextLength"] = "5" });

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": {"inputs": ["short", "too long"]}, "id": 1}""");

        var errors = JsonRpcAssert.ErrorData(response, -32602, "validation_failed").GetProperty("errors");
        Assert.Equal(["inputs[1]"], errors.EnumerateObject().Select(member => member.Name));
        Assert.Empty(host.Inference.Requests);
    }

    [Fact]
    public async Task Predict_of_an_unknown_model_is_the_upstream_404_as_application_error()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        host.Inference.Failure = UpstreamProblems.ModelNotFound;

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": ["nope", ["x"]], "id": "p"}""");

        JsonRpcAssert.Matches("""{"jsonrpc": "2.0", "error": {"code": 404, "message": "Unknown model"}, "id": "p"}""", response);
        var data = JsonRpcAssert.ErrorData(response, 404, "model_not_found");
        Assert.Equal(404, data.GetProperty("status").GetInt32());
        Assert.Equal("No model named 'nope'.", data.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Predict_while_inference_is_down_is_503_upstream_unavailable()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        host.Inference.Failure = UpstreamProblems.InferenceUnavailable;

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": {"inputs": ["x"]}, "id": 1}""");

        JsonRpcAssert.ErrorData(response, 503, "upstream_unavailable");
    }

    [Fact]
    public async Task Predict_without_the_predict_scope_is_403_insufficient_scope_and_never_reaches_inference()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "predict", "params": {"inputs": ["x"]}, "id": 1}""", scopes: "jobs");

        var data = JsonRpcAssert.ErrorData(response, 403, "insufficient_scope");
        Assert.Equal(403, data.GetProperty("status").GetInt32());
        Assert.Empty(host.Inference.Requests);
    }

    [Fact]
    public async Task Predict_notification_without_the_scope_is_not_run()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        using var response = await host.PostAsync("""{"jsonrpc": "2.0", "method": "predict", "params": {"inputs": ["x"]}}""", scopes: "jobs");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(host.Inference.Requests);
    }

    [Theory]
    [InlineData("")]
    [InlineData(""", "params": []""")]
    [InlineData(""", "params": {}""")]
    public async Task ListModels_returns_the_catalog_in_camel_case(string parameters)
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "listModels"{{parameters}}, "id": 1}""");

        var model = Assert.Single(response.GetProperty("result").GetProperty("models").EnumerateArray());
        Assert.Equal("sentiment", model.GetProperty("name").GetString());
        Assert.Equal(0.84, model.GetProperty("heldOutAccuracy").GetDouble());
    }

    [Fact]
    public async Task ListModels_with_positional_params_is_invalid_params()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "listModels", "params": ["all"], "id": 1}""");

        var errors = JsonRpcAssert.ErrorData(response, -32602, "validation_failed").GetProperty("errors");
        Assert.True(errors.TryGetProperty("params", out _));
    }

    [Fact]
    public async Task ListModels_while_inference_is_down_is_503()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        host.Inference.Failure = UpstreamProblems.InferenceUnavailable;

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "listModels", "id": 1}""");

        JsonRpcAssert.ErrorData(response, 503, "upstream_unavailable");
    }
}
