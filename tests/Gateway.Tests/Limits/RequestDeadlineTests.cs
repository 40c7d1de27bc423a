using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Limits;

/// <summary>Every request, <c>/rpc</c> included, is cut off at the overall deadline with a 504 problem.</summary>
public sealed class RequestDeadlineTests
{
    private static ConfiguredGatewayFactory SlowUpstream()
    {
        var factory = new ConfiguredGatewayFactory(new Dictionary<string, string?> { ["RequestLimits:Deadline"] = "00:00:00.300" });
        factory.Inference.Delay = cancellationToken => Task.Delay(Timeout.Infinite, cancellationToken);
        return factory;
    }

    [Fact]
    public async Task A_rest_request_past_the_deadline_is_504_deadline_exceeded()
    {
        await using var factory = SlowUpstream();
        using var client = factory.CreateAuthorizedClient();

        var response = await client.PostAsJsonAsync("/api/v1/predictions", new { model = "sentiment", inputs = new[] { "fine" } },
            TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.GatewayTimeout, "deadline_exceeded");
    }

    [Fact]
    public async Task A_json_rpc_batch_past_the_deadline_is_504_deadline_exceeded()
    {
        await using var factory = SlowUpstream();
        using var client = factory.CreateAuthorizedClient();
        var started = System.Diagnostics.Stopwatch.StartNew();

        var response = await client.PostAsync("/rpc", new StringContent(
            """[{"jsonrpc":"2.0","method":"predict","params":[null,["a"]],"id":1},{"jsonrpc":"2.0","method":"predict","params":[null,["b"]],"id":2}]""",
            Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.GatewayTimeout, "deadline_exceeded");
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"answered after {started.Elapsed}");
        // The second call never started (the first may not have reached the upstream either: it waits in the
        // prediction batcher, and on a busy machine the 300 ms can pass before the batch is sent).
        Assert.True(factory.Inference.Requests.Count <= 1, $"{factory.Inference.Requests.Count} upstream calls");
    }
}
