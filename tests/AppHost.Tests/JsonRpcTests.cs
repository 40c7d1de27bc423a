using System.Text;

namespace AppHost.Tests;

/// <summary><c>POST /rpc</c> against the real services: the same answers as REST, in JSON-RPC 2.0's shape.</summary>
public sealed class JsonRpcTests(AppHostFixture stack)
{
    private async Task<JsonElement> CallAsync(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await stack.Gateway.PostAsync("/rpc", content, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonElement.Parse(text);
    }

    [Fact]
    public async Task Predict_over_rpc_gives_the_same_predictions_as_rest()
    {
        string[] texts = ["An absolute delight from start to finish.", "Broken on arrival and support never answered."];
        var rest = await stack.Gateway.PostAsJsonAsync("/api/v1/predictions", new { model = "sentiment", inputs = texts },
            TestContext.Current.CancellationToken);
        var restBody = await rest.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);

        var rpc = await CallAsync($$"""
            {"jsonrpc":"2.0","method":"predict","params":{"model":"sentiment","inputs":{{JsonSerializer.Serialize(texts)}}},"id":"p-1"}
            """);

        Assert.Equal("p-1", rpc.GetProperty("id").GetString());
        Assert.Equal(restBody.GetProperty("predictions").GetRawText(), rpc.GetProperty("result").GetProperty("predictions").GetRawText());
        Assert.Equal(["positive", "negative"], rpc.GetProperty("result").GetProperty("predictions").EnumerateArray()
            .Select(p => p.GetProperty("label").GetString()));
    }

    [Fact]
    public async Task A_batch_answers_calls_in_order_skips_notifications_and_reports_python_errors_with_the_trace_id()
    {
        var batch = await CallAsync("""
            [
              {"jsonrpc":"2.0","method":"listModels","id":1},
              {"jsonrpc":"2.0","method":"predict","params":["sentiment",["lovely"]]},
              {"jsonrpc":"2.0","method":"predict","params":{"model":"unicorn","inputs":["x"]},"id":2},
              {"jsonrpc":"2.0","method":"nope","id":3}
            ]
            """);

        var responses = batch.EnumerateArray().ToList();
        Assert.Equal([1, 2, 3], responses.Select(r => r.GetProperty("id").GetInt32()));
        Assert.Contains(responses[0].GetProperty("result").GetProperty("models").EnumerateArray(),
            m => m.GetProperty("name").GetString() == "sentiment");
        var notFound = responses[1].GetProperty("error");
        Assert.Equal(404, notFound.GetProperty("code").GetInt32());
        Assert.Equal("model_not_found", notFound.GetProperty("data").GetProperty("code").GetString());
        Assert.Matches(Problems.TraceId(), notFound.GetProperty("data").GetProperty("traceId").GetString());
        Assert.Equal(-32601, responses[2].GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task A_job_submitted_over_rpc_is_processed_and_readable_over_rpc()
    {
        var submitted = await CallAsync("""
            {"jsonrpc":"2.0","method":"submitJob","params":{"model":"sentiment","inputs":["What a wonderful evening."]},"id":10}
            """);
        var id = submitted.GetProperty("result").GetProperty("id").GetString();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        JsonElement job;
        do
        {
            await Task.Delay(200, timeout.Token);
            job = (await CallAsync($$"""{"jsonrpc":"2.0","method":"getJob","params":["{{id}}"],"id":11}""")).GetProperty("result");
        }
        while (job.GetProperty("status").GetString() is "queued" or "running");

        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal("positive", job.GetProperty("result").GetProperty("predictions")[0].GetProperty("label").GetString());
    }
}
