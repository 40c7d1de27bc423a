using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.Application;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Upstream;

/// <summary>
/// How concurrent submissions of one owner share calls to the Worker: what goes alone, what goes together, in which
/// order, and that a caller's answer is its own whatever its neighbours got. The Worker is a scripted sender here; the
/// real one answers the same contract in Worker.Tests and end to end in the jobs benchmark.
/// </summary>
public sealed class JobSubmissionCoalescerTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Holds every call until released, and answers each submission by its idempotency key.</summary>
    private sealed class GatedWorker : IJobSubmissionSender
    {
        private readonly ConcurrentQueue<TaskCompletionSource> _gates = new();

        public ConcurrentQueue<IReadOnlyList<string>> Calls { get; } = new();

        public Func<string, Outcome<JobView>> Answer { get; set; } = key => View(key);

        public Exception? Throw { get; set; }

        public int Open => _gates.Count(gate => !gate.Task.IsCompleted);

        /// <summary>Lets the oldest held call answer.</summary>
        public void ReleaseOne()
        {
            foreach (var gate in _gates)
            {
                if (gate.TrySetResult())
                {
                    return;
                }
            }

            throw new InvalidOperationException("No call is held.");
        }

        public async Task<Outcome<JobView>> SendAsync(JobSubmissionRequest request, string owner, CancellationToken cancellationToken) =>
            (await SendManyCoreAsync([request], owner, alone: true))[0];

        public Task<IReadOnlyList<Outcome<JobView>>> SendManyAsync(IReadOnlyList<JobSubmissionRequest> requests, string owner,
            CancellationToken cancellationToken) => SendManyCoreAsync(requests, owner, alone: false);

        private async Task<IReadOnlyList<Outcome<JobView>>> SendManyCoreAsync(IReadOnlyList<JobSubmissionRequest> requests, string owner,
            bool alone)
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _gates.Enqueue(gate);
            Calls.Enqueue([.. requests.Select(request => (alone ? "alone:" : "") + owner + "/" + request.IdempotencyKey)]);
            await gate.Task;
            if (Throw is { } exception)
            {
                throw exception;
            }

            return [.. requests.Select(request => Answer(request.IdempotencyKey))];
        }
    }

    private static Outcome<JobView> View(string key) => Outcome.Success(new JobView(Guid.CreateVersion7(), key, "queued", 0,
        DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null));

    private static JobSubmissionCoalescer Coalescer(int callsPerOwner = 1, int perCall = 100) =>
        new(Options.Create(new JobsOptions { MaxSubmissionCallsPerOwner = callsPerOwner, MaxSubmissionsPerCall = perCall }),
            NullLogger<JobSubmissionCoalescer>.Instance);

    private static Task<Outcome<JobView>> Submit(JobSubmissionCoalescer coalescer, GatedWorker worker, string key,
        string owner = "alice", CancellationToken cancellationToken = default) =>
        coalescer.SubmitAsync(worker, new JobSubmissionRequest(new JobSubmission("sentiment", []), key,
            Activity.Current?.Context ?? default), owner, cancellationToken == default ? Token : cancellationToken);

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(5, deadline.Token);
        }
    }

    [Fact]
    public async Task A_lone_submission_goes_at_once_in_a_call_of_its_own()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer();

        var answer = Submit(coalescer, worker, "k1");
        worker.ReleaseOne();

        Assert.Equal("k1", (await answer).Value?.Model);
        Assert.Equal(["alone:alice/k1"], Assert.Single(worker.Calls));
        Assert.Equal(0, coalescer.ActiveOwners);
    }

    [Fact]
    public async Task Submissions_that_arrive_while_the_calls_are_busy_go_together_in_order_and_each_gets_its_own_answer()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer(callsPerOwner: 1);

        var first = Submit(coalescer, worker, "k0");
        var waiting = Enumerable.Range(1, 5).Select(i => Submit(coalescer, worker, $"k{i}")).ToList();
        Assert.Single(worker.Calls); // the rest wait for the one call in flight
        worker.ReleaseOne();
        await WaitUntil(() => worker.Calls.Count == 2);
        worker.ReleaseOne();

        Assert.Equal("k0", (await first).Value?.Model);
        Assert.Equal(["k1", "k2", "k3", "k4", "k5"], (await Task.WhenAll(waiting)).Select(outcome => outcome.Value?.Model));
        Assert.Equal(["alice/k1", "alice/k2", "alice/k3", "alice/k4", "alice/k5"], worker.Calls.Last());
        await WaitUntil(() => coalescer.ActiveOwners == 0);
    }

    [Fact]
    public async Task One_refused_submission_of_a_batch_does_not_refuse_its_neighbours()
    {
        var worker = new GatedWorker
        {
            Answer = key => key == "bad" ? new ProblemDetails { Status = 422, Title = "refused" } : View(key),
        };
        var coalescer = Coalescer(callsPerOwner: 1);

        var first = Submit(coalescer, worker, "k0");
        var batch = new[] { "a", "bad", "b" }.Select(key => Submit(coalescer, worker, key)).ToList();
        worker.ReleaseOne();
        await WaitUntil(() => worker.Calls.Count == 2);
        worker.ReleaseOne();
        var outcomes = await Task.WhenAll(batch);

        await first;
        Assert.Equal("a", outcomes[0].Value?.Model);
        Assert.Equal(422, outcomes[1].Problem?.Status);
        Assert.Equal("b", outcomes[2].Value?.Model);
    }

    [Fact]
    public async Task A_batch_holds_at_most_the_configured_number_and_the_rest_follow_in_the_next_call()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer(callsPerOwner: 1, perCall: 3);

        var all = new List<Task<Outcome<JobView>>> { Submit(coalescer, worker, "k0") };
        all.AddRange(Enumerable.Range(1, 7).Select(i => Submit(coalescer, worker, $"k{i}")));
        for (var calls = 1; calls <= 4; calls++)
        {
            await WaitUntil(() => worker.Calls.Count == calls);
            worker.ReleaseOne();
        }

        await Task.WhenAll(all);
        Assert.Equal([1, 3, 3, 1], worker.Calls.Select(call => call.Count));
    }

    [Fact]
    public async Task Owners_do_not_share_calls_and_each_has_its_own_calls_in_flight()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer(callsPerOwner: 1);

        var alice = Submit(coalescer, worker, "a", owner: "alice");
        var bob = Submit(coalescer, worker, "b", owner: "bob");

        Assert.Equal(2, worker.Open); // bob did not wait for alice's call
        worker.ReleaseOne();
        worker.ReleaseOne();
        await Task.WhenAll(alice, bob);
        Assert.All(worker.Calls, call => Assert.Single(call));
    }

    [Fact]
    public async Task A_caller_that_goes_away_while_waiting_stops_waiting_at_once_and_is_left_out_of_the_batch()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer(callsPerOwner: 1);
        using var leaving = CancellationTokenSource.CreateLinkedTokenSource(Token);

        var first = Submit(coalescer, worker, "k0");
        var gone = Submit(coalescer, worker, "gone", cancellationToken: leaving.Token);
        var staying = Submit(coalescer, worker, "stays");
        await leaving.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gone);
        worker.ReleaseOne();
        await WaitUntil(() => worker.Calls.Count == 2);
        worker.ReleaseOne();
        await Task.WhenAll(first, staying);
        Assert.Equal(["alice/stays"], worker.Calls.Last());
    }

    [Fact]
    public async Task When_a_batch_call_breaks_every_caller_in_it_gets_a_502_problem_not_a_hang()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer(callsPerOwner: 1);

        var first = Submit(coalescer, worker, "k0");
        var batch = new[] { "a", "b" }.Select(key => Submit(coalescer, worker, key)).ToList();
        worker.ReleaseOne();
        await first;
        await WaitUntil(() => worker.Calls.Count == 2);
        worker.Throw = new InvalidOperationException("a bug");
        worker.ReleaseOne();

        var outcomes = await Task.WhenAll(batch);
        Assert.All(outcomes, outcome => Assert.Equal(502, outcome.Problem?.Status));
        Assert.NotSame(outcomes[0].Problem, outcomes[1].Problem);
        await WaitUntil(() => coalescer.ActiveOwners == 0);
    }

    [Fact]
    public async Task With_no_shared_calls_configured_every_submission_is_a_call_of_its_own()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer(callsPerOwner: 0);

        var answers = Enumerable.Range(0, 3).Select(i => Submit(coalescer, worker, $"k{i}")).ToList();
        Assert.Equal(3, worker.Open);
        for (var i = 0; i < 3; i++)
        {
            worker.ReleaseOne();
        }

        await Task.WhenAll(answers);
        Assert.All(worker.Calls, call => Assert.StartsWith("alone:", Assert.Single(call), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_batch_call_continues_the_first_sampled_callers_trace_and_each_submission_keeps_its_own()
    {
        var worker = new GatedWorker();
        var coalescer = Coalescer(callsPerOwner: 1);
        var started = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == Microsoft.Extensions.Hosting.Telemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = started.Add,
        };
        ActivitySource.AddActivityListener(listener);
        var contexts = Enumerable.Range(0, 3).Select(i => new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(),
            i == 2 ? ActivityTraceFlags.Recorded : ActivityTraceFlags.None)).ToList();
        Task<Outcome<JobView>> SubmitIn(ActivityContext context, string key) =>
            coalescer.SubmitAsync(worker, new JobSubmissionRequest(new JobSubmission("sentiment", []), key, context), "alice", Token);

        var first = SubmitIn(contexts[0], "k0");
        var batch = new[] { SubmitIn(contexts[1], "k1"), SubmitIn(contexts[2], "k2") };
        worker.ReleaseOne();
        await WaitUntil(() => worker.Calls.Count == 2);
        worker.ReleaseOne();
        await Task.WhenAll(batch.Append(first));

        var span = Assert.Single(started, activity => activity.DisplayName == "submit 2 jobs");
        Assert.Equal(contexts[2].TraceId, span.TraceId); // the sampled one
        Assert.Equal([contexts[1].TraceId, contexts[2].TraceId], span.Links.Select(link => link.Context.TraceId));
    }
}
