using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using Gateway.Tests.Rpc;
using Microsoft.Extensions.Options;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Limits;

/// <summary>
/// Calls that wait on an upstream hold a slot of that upstream's pools, per caller and overall; with none free the
/// answer is at once 503 <c>concurrency_limited</c> with <c>Retry-After</c> (over JSON-RPC, that call's error).
/// </summary>
public sealed class UpstreamConcurrencyTests
{
    private static readonly object Body = new { model = "sentiment", inputs = new[] { "fine" } };

    private static ConfiguredGatewayFactory Factory(int perCaller, int overall) => new(new Dictionary<string, string?>
    {
        ["UpstreamLimits:MaxConcurrentCallsPerCaller"] = $"{perCaller}",
        ["UpstreamLimits:MaxConcurrentCalls"] = $"{overall}",
        ["UpstreamLimits:RetryAfter"] = "00:00:02",
    });

    /// <summary>Holds every prediction until released; returns the release and a task that completes once one waits.</summary>
    private static (TaskCompletionSource Release, Task FirstWaiting) Hold(ConfiguredGatewayFactory factory)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Inference.Delay = async cancellationToken =>
        {
            waiting.TrySetResult();
            await release.Task.WaitAsync(cancellationToken);
        };
        return (release, waiting.Task);
    }

    [Fact]
    public async Task A_callers_second_call_while_its_first_waits_is_503_with_retry_after_and_another_caller_is_served()
    {
        await using var factory = Factory(perCaller: 1, overall: 10);
        using var fay = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-fay"));
        using var gus = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-gus"));
        var (release, waiting) = Hold(factory);

        var first = fay.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var second = await fay.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        var rpc = await fay.PostAsync("/rpc", new StringContent("""{"jsonrpc":"2.0","method":"listModels","id":1}""",
            Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var other = gus.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        release.SetResult();

        var problem = await ReadProblemAsync(second, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.Equal("2", Assert.Single(second.Headers.GetValues("Retry-After")));
        Assert.Equal(2, problem.GetProperty("retryAfter").GetInt32());
        var rpcAnswer = await rpc.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        JsonRpcAssert.ErrorData(rpcAnswer, 503, "concurrency_limited");
        Assert.Equal(2, rpcAnswer.GetProperty("error").GetProperty("data").GetProperty("retryAfter").GetInt32());
        Assert.Equal("2", Assert.Single(rpc.Headers.GetValues("Retry-After")));
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await other).StatusCode);
    }

    [Fact]
    public async Task When_every_slot_is_taken_another_caller_gets_503_too_and_a_freed_slot_serves_again()
    {
        await using var factory = Factory(perCaller: 5, overall: 1);
        using var hal = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-hal"));
        using var ida = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-ida"));
        var (release, waiting) = Hold(factory);

        var first = hal.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var refused = await ida.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        release.SetResult();
        await first;
        var later = await ida.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.Contains("gateway has as many calls to python-inference", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task Predictions_that_fill_python_inferences_slots_leave_the_workers_slots_to_the_jobs_routes()
    {
        await using var factory = Factory(perCaller: 1, overall: 1);
        using var jan = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-jan"));
        using var kim = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-kim"));
        var (release, waiting) = Hold(factory);

        var first = jan.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var refused = await kim.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        var ownJob = await jan.PostAsJsonAsync("/api/v1/jobs", Body, TestContext.Current.CancellationToken);
        var otherJob = await kim.PostAsJsonAsync("/api/v1/jobs", Body, TestContext.Current.CancellationToken);
        var rpcJob = await kim.PostAsync("/rpc", new StringContent(
            """{"jsonrpc":"2.0","method":"submitJob","params":{"model":"sentiment","inputs":["fine"]},"id":1}""",
            Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        release.SetResult();

        var problem = await ReadProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.Contains("python-inference", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, ownJob.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, otherJob.StatusCode);
        var rpcAnswer = await rpcJob.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.True(rpcAnswer.TryGetProperty("result", out _), rpcAnswer.ToString());
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
    }

    [Fact]
    public async Task Limits_out_of_range_stop_the_gateway_at_start_up()
    {
        await using var factory = new ConfiguredGatewayFactory(new Dictionary<string, string?>
        {
            ["UpstreamLimits:MaxConcurrentCallsPerCaller"] = "0",
        });

        var failure = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        Assert.Contains("MaxConcurrentCallsPerCaller", (failure as OptionsValidationException ?? failure.InnerException ?? failure).Message,
            StringComparison.Ordinal);
    }
}
