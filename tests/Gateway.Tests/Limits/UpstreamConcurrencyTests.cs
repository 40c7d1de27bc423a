using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using Gateway.Tests.Rpc;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Limits;

/// <summary>
/// Calls that wait on an upstream hold a slot of that upstream's pools, per caller and overall. With the caller's own
/// pool full the answer is at once 503 <c>concurrency_limited</c> with <c>Retry-After</c> (over JSON-RPC, that call's
/// error); with the replica's full, the call waits for a slot up to <c>QueueWait</c> (in a line of <c>QueueLimit</c>),
/// then gets the same 503.
/// </summary>
public sealed class UpstreamConcurrencyTests
{
    private static readonly object Body = new { model = "sentiment", inputs = new[] { "fine" } };

    private static readonly TimeSpan ShortWait = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How much sooner than a stopwatch reads it the wait may end. The wait is a timer, and .NET's timers count on
    /// <see cref="Environment.TickCount64"/>, which on Linux reads the kernel's coarse clock (a jiffy: 4 ms here, 10 ms
    /// on a kernel built with HZ=100); a CI run saw a 2 s wait end after 1.988 s by the stopwatch.
    /// </summary>
    private static readonly TimeSpan TimerSlack = TimeSpan.FromMilliseconds(50);

    private static ConfiguredGatewayFactory Factory(int perCaller, int overall, TimeSpan? queueWait = null, int queueLimit = 1024) =>
        new(new Dictionary<string, string?>
        {
            ["UpstreamLimits:MaxConcurrentCallsPerCaller"] = $"{perCaller}",
            ["UpstreamLimits:MaxConcurrentCalls"] = $"{overall}",
            ["UpstreamLimits:RetryAfter"] = "00:00:02",
            ["UpstreamLimits:QueueWait"] = (queueWait ?? ShortWait).ToString("c"),
            ["UpstreamLimits:QueueLimit"] = $"{queueLimit}",
        });

    /// <summary>Holds every prediction until released; returns the release and a task that completes once one waits.</summary>
    private static (TaskCompletionSource Release, Task FirstWaiting) Hold(ConfiguredGatewayFactory factory)
    {
        var (release, waiting, delay) = Held();
        factory.Inference.Delay = delay;
        return (release, waiting);
    }

    /// <summary>A delay for a fake upstream that holds every call until released, and a task that completes once one waits.</summary>
    private static (TaskCompletionSource Release, Task FirstWaiting, Func<CancellationToken, Task> Delay) Held()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return (release, waiting.Task, async cancellationToken =>
        {
            waiting.TrySetResult();
            await release.Task.WaitAsync(cancellationToken);
        });
    }

    /// <summary>Starts a prediction of <paramref name="client"/> that holds its slots until released, once it is under way.</summary>
    private static async Task<(TaskCompletionSource Release, Task<HttpResponseMessage> Call)> HoldOneCallAsync(
        ConfiguredGatewayFactory factory, HttpClient client)
    {
        var (release, waiting) = Hold(factory);
        var call = client.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        return (release, call);
    }

    /// <summary>A prediction of <paramref name="client"/>'s, and how long its answer took.</summary>
    private static async Task<(HttpResponseMessage Answer, TimeSpan Took)> PredictTimedAsync(HttpClient client)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answer = await client.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        return (answer, clock.Elapsed);
    }

    [Fact]
    public async Task A_callers_second_call_while_its_first_waits_is_503_at_once_with_retry_after_and_another_caller_is_served()
    {
        // The replica's pool has room and a long wait: the caller's own pool refuses, without waiting.
        await using var factory = Factory(perCaller: 1, overall: 10, queueWait: TimeSpan.FromSeconds(10));
        using var fay = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-fay"));
        using var gus = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-gus"));

        var (release, first) = await HoldOneCallAsync(factory, fay);
        var (second, refusedAfter) = await PredictTimedAsync(fay);
        var rpc = await fay.PostAsync("/rpc", new StringContent("""{"jsonrpc":"2.0","method":"listModels","id":1}""",
            Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var other = gus.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        release.SetResult();

        var problem = await ReadProblemAsync(second, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.True(refusedAfter < TimeSpan.FromSeconds(5), $"refused after {refusedAfter}, not at once");
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
    public async Task When_every_slot_is_taken_another_caller_waits_out_the_wait_then_gets_503_and_a_freed_slot_serves_again()
    {
        await using var factory = Factory(perCaller: 5, overall: 1);
        using var hal = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-hal"));
        using var ida = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-ida"));

        var (release, first) = await HoldOneCallAsync(factory, hal);
        var (refused, refusedAfter) = await PredictTimedAsync(ida);
        release.SetResult();
        await first;
        var later = await ida.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.Contains("gateway has as many calls to python-inference", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(refusedAfter >= ShortWait - TimerSlack, $"refused after {refusedAfter}, before the wait of {ShortWait} was over");
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task Once_a_call_has_waited_out_the_wait_the_next_that_finds_every_slot_taken_is_refused_at_once()
    {
        // python-inference holds its one slot (slow): the first call to find it taken waits out the wait; the line has
        // served nobody since, so the next is refused without waiting. A freed slot is taken as before.
        await using var factory = Factory(perCaller: 5, overall: 1, queueWait: TimeSpan.FromSeconds(2));
        using var sam = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-sam"));
        using var tia = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-tia"));

        var (release, first) = await HoldOneCallAsync(factory, sam);
        var (waitedOut, waitedFor) = await PredictTimedAsync(tia);
        var (atOnce, refusedAfter) = await PredictTimedAsync(tia);
        release.SetResult();
        await first;
        var later = await tia.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);

        await ReadProblemAsync(waitedOut, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        await ReadProblemAsync(atOnce, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.True(waitedFor >= TimeSpan.FromSeconds(2) - TimerSlack, $"the first waited {waitedFor}, less than the wait");
        Assert.True(refusedAfter < TimeSpan.FromSeconds(1), $"the next was refused after {refusedAfter}, not at once");
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task A_call_that_finds_every_slot_taken_is_served_when_one_frees_within_the_wait()
    {
        await using var factory = Factory(perCaller: 5, overall: 1, queueWait: TimeSpan.FromSeconds(10));
        using var lea = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-lea"));
        using var max = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-max"));

        var (release, first) = await HoldOneCallAsync(factory, lea);
        var second = max.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        await Task.Delay(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken);
        // Not answered while every slot was taken (neither served nor refused): it was waiting for one.
        Assert.False(second.IsCompleted, "the second call was answered while every slot was taken");
        release.SetResult();

        Assert.Equal(HttpStatusCode.OK, (await second).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
    }

    [Fact]
    public async Task A_caller_that_goes_away_while_waiting_for_a_slot_gets_its_own_slot_back()
    {
        await using var factory = Factory(perCaller: 1, overall: 1, queueWait: TimeSpan.FromSeconds(10));
        using var quinn = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-quinn"));
        using var rita = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-rita"));

        var (release, first) = await HoldOneCallAsync(factory, quinn);
        using (var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => rita.PostAsJsonAsync("/api/v1/predictions", Body, giveUp.Token));
        }

        release.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);

        // Her one slot is free again: had the abandoned wait kept it, this would be refused at once as "caller is full".
        var again = await rita.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task When_the_line_for_a_slot_is_full_the_next_call_is_refused_at_once()
    {
        await using var factory = Factory(perCaller: 5, overall: 1, queueWait: TimeSpan.FromSeconds(10), queueLimit: 1);
        using var ned = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-ned"));
        using var ola = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-ola"));
        using var pia = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-pia"));

        var (release, first) = await HoldOneCallAsync(factory, ned);
        var inLine = ola.PostAsJsonAsync("/api/v1/predictions", Body, TestContext.Current.CancellationToken);
        await Task.Delay(TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);
        var (refused, refusedAfter) = await PredictTimedAsync(pia);
        release.SetResult();

        await ReadProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.True(refusedAfter < TimeSpan.FromSeconds(5), $"refused after {refusedAfter}, not at once");
        Assert.Equal(HttpStatusCode.OK, (await inLine).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
    }

    [Fact]
    public async Task Predictions_that_fill_python_inferences_slots_leave_the_workers_slots_to_the_jobs_routes()
    {
        await using var factory = Factory(perCaller: 1, overall: 1);
        using var jan = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-jan"));
        using var kim = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-kim"));

        var (release, first) = await HoldOneCallAsync(factory, jan);
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
    public async Task Submissions_that_fill_the_workers_write_slots_leave_its_read_slots_to_the_callers_reading_their_jobs()
    {
        await using var factory = Factory(perCaller: 1, overall: 1);
        using var jan = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-jan"));
        using var kim = factory.CreateAuthorizedClient(TestTokens.Create(subject: "slots-kim"));
        var kims = factory.Jobs.Add(TestTokens.OwnerOf("slots-kim"));
        var (release, waiting, delay) = Held();
        factory.Jobs.SubmitDelay = delay;

        var held = jan.PostAsJsonAsync("/api/v1/jobs", Body, TestContext.Current.CancellationToken);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var refused = await kim.PostAsJsonAsync("/api/v1/jobs", Body, TestContext.Current.CancellationToken);
        var read = await kim.GetAsync($"/api/v1/jobs/{kims.Id}", TestContext.Current.CancellationToken);
        var page = await kim.GetAsync("/api/v1/jobs", TestContext.Current.CancellationToken);
        var rpcRead = await kim.PostAsync("/rpc", new StringContent(
            $$"""{"jsonrpc":"2.0","method":"getJob","params":{"id":"{{kims.Id}}"},"id":1}""",
            Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        release.SetResult();

        await ReadProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var rpcAnswer = await rpcRead.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal($"{kims.Id}", rpcAnswer.GetProperty("result").GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await held).StatusCode);
    }

    [Fact]
    public async Task Limits_out_of_range_stop_the_gateway_at_start_up()
    {
        await using var factory = new ConfiguredGatewayFactory(new Dictionary<string, string?>
        {
            ["UpstreamLimits:MaxConcurrentCallsPerCaller"] = "0",
        });
        var startFailures = new StartFailureLog();
        await using var logged = factory.WithWebHostBuilder(builder =>
            builder.ConfigureLogging(logging => logging.AddProvider(startFailures)));

        Assert.ThrowsAny<Exception>(() => logged.CreateClient());

        Assert.NotEmpty(startFailures.Failures);
        var failure = startFailures.Failures[0]; // why it did not start; any error after it is of its stopping
        Assert.Contains("MaxConcurrentCallsPerCaller", (failure as OptionsValidationException ?? failure.InnerException ?? failure).Message,
            StringComparison.Ordinal);
    }
}
