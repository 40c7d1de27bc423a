using System.Diagnostics;
using Gateway.Application;
using Gateway.Tests.Hosting;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Inference.Batching;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Tests.Upstream.Batching;

/// <summary>The batcher's logic against a scripted python-inference: who shares a batch, who gets which answer.</summary>
public sealed class PredictionBatcherTests : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly ScriptedInference _inference = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly List<PredictionBatcher> _batchers = [];

    public void Dispose()
    {
        _batchers.ForEach(batcher => batcher.Dispose());
        _services.Dispose();
    }

    private PredictionBatcher Batcher(int maxBatchSize = 64, TimeSpan? maxWait = null, int queueLimit = 1024,
        int maxConcurrentBatches = 4, Dictionary<string, ModelBatchingOptions>? models = null, TimeSpan? maxQueueWait = null)
    {
        var batcher = new PredictionBatcher(() => _inference, Options.Create(new PredictionBatchingOptions
        {
            MaxBatchSize = maxBatchSize,
            MaxWait = maxWait ?? TimeSpan.FromMilliseconds(2),
            QueueLimit = queueLimit,
            MaxQueueWait = maxQueueWait ?? TimeSpan.FromSeconds(30),
            MaxConcurrentBatches = maxConcurrentBatches,
            Models = models ?? [],
        }), new BatchingMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()), TimeProvider.System,
            NullLogger<PredictionBatcher>.Instance);
        _batchers.Add(batcher);
        return batcher;
    }

    private static Task<Outcome<PredictionResponse>> Predict(PredictionBatcher batcher, string input,
        CancellationToken? cancellationToken = null, string model = "sentiment") =>
        batcher.PredictAsync(model, JsonSerializer.SerializeToElement(input), cancellationToken ?? Token);

    private static string LabelOf(Outcome<PredictionResponse> outcome) =>
        Assert.Single(Assert.IsType<PredictionResponse>(outcome.Value).Predictions).Label;

    [Fact]
    public async Task Concurrent_callers_share_one_batch_and_each_gets_its_own_answer()
    {
        var batcher = Batcher(maxBatchSize: 10, maxWait: TimeSpan.FromSeconds(1));
        var inputs = Enumerable.Range(0, 10).Select(i => $"text {i}").ToArray();

        var outcomes = await Task.WhenAll(inputs.Select(input => Predict(batcher, input)));

        Assert.Equal(inputs, outcomes.Select(LabelOf));
        var call = Assert.Single(_inference.Calls);
        Assert.Equal(inputs.Order(), call.Order());
        Assert.All(outcomes, outcome => Assert.Equal(("sentiment", "1.0.0"), (outcome.Value!.Model, outcome.Value.Version)));
    }

    [Fact]
    public async Task A_full_batch_leaves_without_waiting_for_the_maximum_wait()
    {
        var batcher = Batcher(maxBatchSize: 4, maxWait: TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Predict(batcher, $"t{i}")));

        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(800), $"took {clock.Elapsed}");
        Assert.Single(_inference.Calls);
    }

    [Fact]
    public async Task A_lone_caller_leaves_after_the_maximum_wait()
    {
        var batcher = Batcher(maxWait: TimeSpan.FromMilliseconds(20));

        Assert.Equal("alone", LabelOf(await Predict(batcher, "alone")));
        Assert.Equal(["alone"], Assert.Single(_inference.Calls));
    }

    [Fact]
    public async Task More_callers_than_a_batch_holds_are_spread_over_several_calls_without_loss()
    {
        var batcher = Batcher(maxBatchSize: 8, maxWait: TimeSpan.FromMilliseconds(5), maxConcurrentBatches: 2);
        var inputs = Enumerable.Range(0, 200).Select(i => $"input {i}").ToArray();

        var outcomes = await Task.WhenAll(inputs.Select(input => Task.Run(() => Predict(batcher, input), Token)));

        Assert.Equal(inputs, outcomes.Select(LabelOf));
        Assert.All(_inference.Calls, call => Assert.InRange(call.Length, 1, 8));
        Assert.Equal(inputs.Order(), _inference.Calls.SelectMany(call => call).Order());
    }

    [Fact]
    public async Task A_bad_input_gets_its_own_problem_and_its_neighbours_their_predictions()
    {
        _inference.Refuse = inputs => inputs.Contains("bad")
            ? ProblemDetailsContract.Create(400, ProblemCodes.ValidationFailed, "The request is not valid.", null,
                inputs.Select((input, i) => (input, i)).Where(x => x.input == "bad")
                    .ToDictionary(x => $"inputs[{x.i}]", _ => new[] { "is not a sentence" }))
            : null;
        var batcher = Batcher(maxBatchSize: 5, maxWait: TimeSpan.FromSeconds(1));
        string[] inputs = ["good 1", "good 2", "bad", "good 3", "good 4"];

        var outcomes = await Task.WhenAll(inputs.Select(input => Predict(batcher, input)));

        var bad = Assert.IsType<ProblemDetails>(outcomes[2].Problem);
        Assert.Equal((400, ProblemCodes.ValidationFailed), (bad.Status, ProblemDetailsContract.CodeOf(bad)));
        Assert.Equal(["inputs[0]"], ((IDictionary<string, string[]>)bad.Extensions["errors"]!).Keys);
        Assert.Equal(["good 1", "good 2", "good 3", "good 4"], outcomes.Where((_, i) => i != 2).Select(LabelOf));
        // The whole batch, then the good inputs together and the bad one alone.
        Assert.Equal(3, _inference.Calls.Count);
        Assert.Contains(_inference.Calls, call => call is ["bad"]);
        Assert.Contains(_inference.Calls, call => call.Length == 4 && !call.Contains("bad"));
    }

    [Fact]
    public async Task A_refusal_that_names_no_input_is_retried_in_halves_until_the_bad_input_is_alone()
    {
        _inference.Refuse = inputs => inputs.Contains("bad")
            ? ProblemDetailsContract.Create(400, ProblemCodes.ValidationFailed, "The request is not valid.", "Something is wrong.")
            : null;
        var batcher = Batcher(maxBatchSize: 8, maxWait: TimeSpan.FromSeconds(1));
        var inputs = Enumerable.Range(0, 8).Select(i => i == 5 ? "bad" : $"good {i}").ToArray();

        var outcomes = await Task.WhenAll(inputs.Select(input => Predict(batcher, input)));

        Assert.Equal(400, outcomes[5].Problem?.Status);
        Assert.All(outcomes.Where((_, i) => i != 5), outcome => Assert.Null(outcome.Problem));
        Assert.Contains(_inference.Calls, call => call is ["bad"]);
    }

    [Fact]
    public async Task An_upstream_failure_reaches_every_caller_as_the_same_problem_each_with_its_own_copy()
    {
        _inference.Refuse = _ => UpstreamProblems.InferenceUnavailable;
        var batcher = Batcher(maxBatchSize: 3, maxWait: TimeSpan.FromSeconds(1));

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Predict(batcher, $"t{i}")));

        Assert.All(outcomes, outcome => Assert.Equal((503, ProblemCodes.UpstreamUnavailable),
            (outcome.Problem!.Status, ProblemDetailsContract.CodeOf(outcome.Problem))));
        Assert.Equal(3, outcomes.Select(outcome => outcome.Problem).Distinct().Count());
        Assert.Single(_inference.Calls); // not retried: python-inference's outage is every caller's
    }

    [Fact]
    public async Task A_full_queue_answers_503_with_retry_after_at_once()
    {
        _inference.Gate = ScriptedInference.Closed();
        var batcher = Batcher(maxBatchSize: 1, queueLimit: 2, maxConcurrentBatches: 1);
        var inFlight = Predict(batcher, "in flight");
        await _inference.Called.Task.WaitAsync(Token);
        var queued = new[] { Predict(batcher, "queued 1"), Predict(batcher, "queued 2") };

        var refused = await Predict(batcher, "one too many").WaitAsync(TimeSpan.FromSeconds(5), Token);

        Assert.Equal((503, ProblemCodes.ConcurrencyLimited), (refused.Problem!.Status, ProblemDetailsContract.CodeOf(refused.Problem)));
        Assert.Equal(1, refused.Problem.Extensions[ProblemDetailsContract.RetryAfterMember]);
        _inference.Gate.SetResult();
        Assert.Equal(["in flight", "queued 1", "queued 2"], (await Task.WhenAll([inFlight, .. queued])).Select(LabelOf));
    }

    [Fact]
    public async Task A_queue_whose_oldest_caller_has_waited_too_long_refuses_new_callers_at_once_and_keeps_the_queued_ones()
    {
        _inference.Gate = ScriptedInference.Closed();
        var batcher = Batcher(maxBatchSize: 1, maxConcurrentBatches: 1, maxQueueWait: TimeSpan.FromMilliseconds(100));
        var inFlight = Predict(batcher, "in flight");
        await _inference.Called.Task.WaitAsync(Token);
        var queued = Predict(batcher, "queued");
        var behindYet = Predict(batcher, "admitted: the oldest has not waited long yet");

        await Task.Delay(TimeSpan.FromMilliseconds(250), Token);
        var refused = await Predict(batcher, "refused").WaitAsync(TimeSpan.FromSeconds(5), Token);

        Assert.Equal((503, ProblemCodes.ConcurrencyLimited), (refused.Problem!.Status, ProblemDetailsContract.CodeOf(refused.Problem)));
        Assert.Contains("not keeping up", refused.Problem.Detail, StringComparison.Ordinal);
        Assert.Equal(1, refused.Problem.Extensions[ProblemDetailsContract.RetryAfterMember]);
        _inference.Gate.SetResult();
        Assert.Equal(["in flight", "queued", "admitted: the oldest has not waited long yet"],
            (await Task.WhenAll(inFlight, queued, behindYet)).Select(LabelOf));
        // Once the queue has moved, callers are queued again.
        Assert.Equal("after", LabelOf(await Predict(batcher, "after")));
        Assert.DoesNotContain(_inference.Calls, call => call.Contains("refused"));
    }

    [Fact]
    public void The_longest_queue_wait_must_be_longer_than_every_models_batch_wait()
    {
        var options = new PredictionBatchingOptions
        {
            MaxQueueWait = TimeSpan.FromMilliseconds(100),
            Models = { ["slow"] = new ModelBatchingOptions { MaxWait = TimeSpan.FromMilliseconds(200) } },
        };

        var errors = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();

        Assert.Contains(errors, error => error.MemberNames.Contains(nameof(PredictionBatchingOptions.MaxQueueWait)));
        options.MaxQueueWait = TimeSpan.FromMilliseconds(500);
        Assert.Empty(options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));
    }

    [Fact]
    public async Task A_caller_that_goes_away_while_queued_is_dropped_from_its_batch()
    {
        _inference.Gate = ScriptedInference.Closed();
        var batcher = Batcher(maxBatchSize: 4, maxWait: TimeSpan.Zero, maxConcurrentBatches: 1);
        var first = Predict(batcher, "first");
        await _inference.Called.Task.WaitAsync(Token);
        using var leaving = new CancellationTokenSource();
        var gone = Predict(batcher, "gone", leaving.Token);
        var staying = Predict(batcher, "staying");

        await leaving.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gone.WaitAsync(TimeSpan.FromSeconds(5), Token));
        _inference.Gate.SetResult();
        Assert.Equal(["first", "staying"], (await Task.WhenAll(first, staying)).Select(LabelOf));
        Assert.DoesNotContain(_inference.Calls, call => call.Contains("gone"));
    }

    [Fact]
    public async Task A_caller_that_goes_away_during_the_call_stops_waiting_and_its_neighbours_get_their_answers()
    {
        _inference.Gate = ScriptedInference.Closed();
        var batcher = Batcher(maxBatchSize: 2, maxWait: TimeSpan.FromSeconds(1));
        using var leaving = new CancellationTokenSource();
        var gone = Predict(batcher, "gone", leaving.Token);
        var staying = Predict(batcher, "staying");
        await _inference.Called.Task.WaitAsync(Token);

        await leaving.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gone.WaitAsync(TimeSpan.FromSeconds(5), Token));
        Assert.False(_inference.LastToken.IsCancellationRequested); // someone still waits for the call
        _inference.Gate.SetResult();
        Assert.Equal("staying", LabelOf(await staying));
    }

    [Fact]
    public async Task The_call_is_cancelled_once_every_caller_of_its_batch_has_gone()
    {
        _inference.Gate = ScriptedInference.Closed();
        var batcher = Batcher(maxBatchSize: 2, maxWait: TimeSpan.FromSeconds(1));
        using var leaving = new CancellationTokenSource();
        var callers = new[] { Predict(batcher, "a", leaving.Token), Predict(batcher, "b", leaving.Token) };
        await _inference.Called.Task.WaitAsync(Token);

        await leaving.CancelAsync();

        foreach (var caller in callers)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => caller.WaitAsync(TimeSpan.FromSeconds(5), Token));
        }

        var deadline = Stopwatch.StartNew();
        while (!_inference.LastToken.IsCancellationRequested && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(10, Token);
        }

        Assert.True(_inference.LastToken.IsCancellationRequested);
    }

    [Fact]
    public async Task Each_caller_has_its_own_span_linked_to_the_batch_calls_span_and_back()
    {
        var stopped = new System.Collections.Concurrent.ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == Microsoft.Extensions.Hosting.Telemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);
        var batcher = Batcher(maxBatchSize: 3, maxWait: TimeSpan.FromSeconds(1));

        await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Task.Run(() => Predict(batcher, $"span {i}"), Token)));

        var spans = stopped.Where(span => span.GetTagItem("ml.model.name") as string == "sentiment").ToList();
        var batch = Assert.Single(spans, span => span.OperationName == "inference batch sentiment");
        var callers = spans.Where(span => span.OperationName == "predict sentiment batched").ToList();
        Assert.Equal(3, callers.Count);
        Assert.Equal(callers.Select(span => span.SpanId.ToHexString()).Order(), batch.Links.Select(link => link.Context.SpanId.ToHexString()).Order());
        Assert.All(callers, span => Assert.Contains(span.Links, link => link.Context.SpanId == batch.SpanId));
        Assert.Contains(callers, span => span.SpanId == batch.ParentSpanId);
    }

    private static PendingPrediction Caller(ActivityTraceFlags flags)
    {
        using var span = new Activity("predict sentiment batched")
            .SetParentId(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), flags).Start();
        return new PendingPrediction(JsonSerializer.SerializeToElement("text"), span, 0);
    }

    [Fact]
    public void A_batch_joins_the_first_sampled_callers_trace_so_no_kept_trace_loses_its_upstream_spans()
    {
        var members = new[] { Caller(ActivityTraceFlags.None), Caller(ActivityTraceFlags.Recorded), Caller(ActivityTraceFlags.Recorded) };

        var parent = ModelBatchQueue.BatchParent(members);

        Assert.Equal(members[1].Trace, parent);
    }

    [Fact]
    public void A_batch_of_sampled_out_callers_carries_not_sampled_on_rather_than_starting_a_trace()
    {
        var members = new[] { Caller(ActivityTraceFlags.None), Caller(ActivityTraceFlags.None) };

        var parent = ModelBatchQueue.BatchParent(members);

        Assert.Equal((members[0].Trace.TraceId, members[0].Trace.SpanId), (parent.TraceId, parent.SpanId));
        Assert.False(parent.TraceFlags.HasFlag(ActivityTraceFlags.Recorded));
        // Remote, so that OpenTelemetry still creates the (unrecorded) batch span whose context the call propagates.
        Assert.True(parent.IsRemote);
    }

    [Fact]
    public async Task Batching_off_sends_one_call_per_request()
    {
        var batcher = new PredictionBatcher(() => _inference,
            Options.Create(new PredictionBatchingOptions { Enabled = false, MaxWait = TimeSpan.FromSeconds(1) }),
            new BatchingMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()), TimeProvider.System,
            NullLogger<PredictionBatcher>.Instance);
        _batchers.Add(batcher);
        var client = new BatchingInferenceClient(_inference, batcher);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
            client.PredictAsync(new PredictionRequest("sentiment", [JsonSerializer.SerializeToElement($"t{i}")]), Token)));

        Assert.Equal(["t0", "t1", "t2", "t3", "t4"], outcomes.Select(LabelOf));
        Assert.Equal(5, _inference.Calls.Count);
        Assert.All(_inference.Calls, call => Assert.Single(call));
    }

    [Fact]
    public async Task A_model_can_be_left_out_of_batching_and_requests_of_several_inputs_never_wait()
    {
        var batcher = Batcher(maxWait: TimeSpan.FromSeconds(1),
            models: new() { ["iris"] = new ModelBatchingOptions { Enabled = false } });
        var client = new BatchingInferenceClient(_inference, batcher);
        var clock = Stopwatch.StartNew();

        await client.PredictAsync(new PredictionRequest("iris", [JsonSerializer.SerializeToElement("one")]), Token);
        await client.PredictAsync(new PredictionRequest("sentiment",
            [JsonSerializer.SerializeToElement("a"), JsonSerializer.SerializeToElement("b")]), Token);

        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(900), $"took {clock.Elapsed}");
        Assert.Equal(2, _inference.Calls.Count);
    }
}
