using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Worker.Inference;
using Worker.Jobs;
using Worker.Messaging;
using Tests.Metrics;
using Worker.Persistence;

namespace Worker.Tests;

public sealed class JobProcessorTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Answers each call with the next scripted outcome.</summary>
    private sealed class ScriptedInference(params InferenceOutcome[] outcomes) : IInferenceClient
    {
        private readonly Queue<InferenceOutcome> _outcomes = new(outcomes);

        public int Calls { get; private set; }

        public Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.FromResult(_outcomes.Dequeue());
        }
    }

    private static readonly MeterCapture UncheckedMeters = new();

    private static JobProcessor Processor(IJobStore store, IInferenceClient inference, MeterCapture? meters = null,
        ILogger<JobProcessor>? logger = null) =>
        new(store, inference, Options.Create(TemporaryJobStore.Messaging), TimeProvider.System,
            new JobMetrics((meters ?? UncheckedMeters).Factory), logger ?? NullLogger<JobProcessor>.Instance);

    /// <summary>Each line written, with the trace it was written in (what a log exporter stamps on it).</summary>
    private sealed class TracedLines : ILogger<JobProcessor>
    {
        public List<(string Message, System.Diagnostics.ActivityTraceId? TraceId)> Written { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) =>
            Written.Add((formatter(state, exception), System.Diagnostics.Activity.Current?.TraceId));
    }

    [Fact]
    public async Task A_successful_prediction_is_recorded_and_acknowledged()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        var inference = new ScriptedInference(new InferenceOutcome.Succeeded(JsonElement.Parse("""{"model":"sentiment"}""")));
        using var meters = new MeterCapture();

        var outcome = await Processor(db.Store, inference, meters).ProcessAsync(job.Id, Token);
        await Processor(db.Store, inference, meters).ProcessAsync(job.Id, Token); // a redelivery: skipped, not counted again

        Assert.IsType<JobProcessingOutcome.Finished>(outcome);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Succeeded, stored?.Status);
        Assert.Equal("sentiment", stored?.Result?.GetProperty("model").GetString());
        Assert.Contains(await db.PendingAsync(), message => message.Type == "job.completed");
        var completed = Assert.Single(meters.Of("jobs.completed"));
        Assert.Equal(("{job}", 1d, "sentiment"), (completed.Unit, completed.Value, completed.Tags["model.name"]));
        var duration = Assert.Single(meters.Of("jobs.duration"));
        Assert.Equal(("s", "succeeded"), (duration.Unit, duration.Tags["job.status"]));
        Assert.InRange(duration.Value, 0, 60);
        Assert.Empty(meters.Of("jobs.failed"));
    }

    [Fact]
    public async Task A_rejected_job_fails_with_the_upstream_problem()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync(model: "unicorn");
        var problem = new ProblemDetails { Status = 404, Title = "Unknown model", Extensions = { ["code"] = "model_not_found" } };

        using var meters = new MeterCapture();

        var outcome = await Processor(db.Store, new ScriptedInference(new InferenceOutcome.Rejected(problem)), meters)
            .ProcessAsync(job.Id, Token);

        Assert.IsType<JobProcessingOutcome.Finished>(outcome);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Failed, stored?.Status);
        Assert.Equal("model_not_found", stored?.Error?.Extensions["code"]?.ToString());
        var failed = Assert.Single(meters.Of("jobs.failed"));
        Assert.Equal(("unicorn", "model_not_found"), (failed.Tags["model.name"], failed.Tags["error.type"]));
        Assert.Contains(await db.PendingAsync(), message => message.Type == "job.failed");
    }

    [Fact]
    public async Task An_outage_puts_the_job_back_to_queued_for_a_retry()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        var processor = Processor(db.Store, new ScriptedInference(new InferenceOutcome.Unavailable("refused")));

        var outcome = await processor.ProcessAsync(job.Id, Token);

        Assert.Equal("refused", Assert.IsType<JobProcessingOutcome.RetryLater>(outcome).Reason);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Queued, stored?.Status);
        Assert.Equal(1, stored?.Attempts);
    }

    [Fact]
    public async Task Giving_up_fails_the_job_once_with_the_last_error_and_announces_it()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        await db.Outbox.MarkSentAsync(job.Id, Token);
        var processor = Processor(db.Store, new ScriptedInference());

        await processor.GiveUpAsync(job.Id, 4, "python-inference answered 500.", Token);
        await processor.GiveUpAsync(job.Id, 4, "again", Token);

        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Failed, stored?.Status);
        Assert.Equal("upstream_unavailable", stored?.Error?.Extensions["code"]?.ToString());
        Assert.Contains("python-inference answered 500.", stored?.Error?.Detail, StringComparison.Ordinal);
        Assert.Equal("job.failed", Assert.Single(await db.PendingAsync()).Type);
    }

    [Fact]
    public async Task A_redelivered_finished_job_is_acknowledged_without_calling_python_again()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        var inference = new ScriptedInference(new InferenceOutcome.Succeeded(JsonElement.Parse("{}")));
        var processor = Processor(db.Store, inference);

        await processor.ProcessAsync(job.Id, Token);
        var redelivery = await processor.ProcessAsync(job.Id, Token);

        Assert.IsType<JobProcessingOutcome.Finished>(redelivery);
        Assert.Equal(1, inference.Calls);
    }

    /// <summary>
    /// Answers a batch in one call: each job's first input is its label, "down" makes that job's answer an outage and
    /// "bad" a refusal of its inputs.
    /// </summary>
    private sealed class BatchInference : IInferenceClient
    {
        public List<int> Calls { get; } = [];

        /// <summary>The span each call was made in (its trace context is what the call to python-inference carries).</summary>
        public List<System.Diagnostics.ActivityContext?> CalledIn { get; } = [];

        public Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("a batch is one call");

        public Task<IReadOnlyList<InferenceOutcome>> PredictManyAsync(string model, IReadOnlyList<JsonElement> inputs,
            CancellationToken cancellationToken)
        {
            Calls.Add(inputs.Count);
            CalledIn.Add(System.Diagnostics.Activity.Current?.Context);
            return Task.FromResult<IReadOnlyList<InferenceOutcome>>([.. inputs.Select(jobInputs => jobInputs[0].GetString() switch
            {
                "down" => new InferenceOutcome.Unavailable("down"),
                "bad" => new InferenceOutcome.Rejected(new ProblemDetails
                    { Status = 422, Title = "Invalid input", Extensions = { ["code"] = "invalid_input" } }),
                _ => (InferenceOutcome)new InferenceOutcome.Succeeded(
                    JsonElement.Parse($$"""{"model":"{{model}}","predictions":[{"label":"{{jobInputs[0]}}"}]}""")),
            })]);
        }
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_batch_of_deliveries_is_one_model_call_and_each_job_is_recorded_once_with_its_own_trace(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var jobs = new List<Job>();
        foreach (var label in new[] { "a", "b", "c", "down" })
        {
            var job = await db.AddQueuedAsync(inputsJson: $"""["{label}"]""");
            await db.Outbox.MarkSentAsync(job.Id, Token);
            jobs.Add(job);
        }

        var traces = jobs.ToDictionary(job => job.Id, _ => $"00-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())}-00f067aa0ba902b7-01");
        var deliveries = jobs.Select(job => new JobDelivery(job.Id, traces[job.Id]))
            .Append(new JobDelivery(Guid.NewGuid(), null)) // unknown: skipped
            .Append(new JobDelivery(jobs[0].Id, traces[jobs[0].Id])) // delivered twice: processed once
            .ToList();
        var inference = new BatchInference();

        var outcomes = await Processor(db.Store, inference).ProcessBatchAsync(deliveries, Token);

        Assert.Equal([4], inference.Calls);
        Assert.Equal(["Finished", "Finished", "Finished", "RetryLater", "Finished", "Finished"], outcomes.Select(outcome => outcome.GetType().Name));
        foreach (var (job, label) in jobs.Zip(new[] { "a", "b", "c" }))
        {
            var stored = await db.Store.FindAsync(job.Id, Token);
            Assert.Equal(JobStatus.Succeeded, stored?.Status);
            Assert.Equal(1, stored?.Attempts);
            Assert.Equal(label, stored?.Result?.GetProperty("predictions")[0].GetProperty("label").GetString());
        }

        Assert.Equal(JobStatus.Queued, (await db.Store.FindAsync(jobs[3].Id, Token))?.Status);
        // Recorded together, announced together: one message, each event in its own job's trace.
        var message = Assert.Single(await db.PendingAsync());
        Assert.Equal("job.completed", message.Type);
        var events = Worker.Events.DomainEvent.TryParseAll(message.Body)!;
        Assert.Equal(jobs.Take(3).Select(job => job.Id).Order(), events.Select(e => e.JobId!.Value).Order());
        Assert.All(events, e => Assert.Equal(traces[e.JobId!.Value], e.TraceParent));
        Assert.Equal(traces[events[0].JobId!.Value], message.TraceParent);
    }

    /// <summary>A queued job of one input (its label) whose message has gone out, delivered in a trace not sampled.</summary>
    private static async Task<JobDelivery> UnsampledDeliveryAsync(TemporaryJobStore db, string label,
        System.Diagnostics.ActivityTraceId traceId)
    {
        var job = await db.AddQueuedAsync(inputsJson: $"[\"{label}\"]");
        await db.Outbox.MarkSentAsync(job.Id, Token);
        return new JobDelivery(job.Id, $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom()}-00");
    }

    [Fact]
    public async Task A_batch_whose_first_job_was_not_sampled_calls_the_model_inside_that_jobs_trace_unsampled()
    {
        await using var db = await TemporaryJobStore.CreateAsync(DatabaseProvider.Sqlite);
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom();
        var inference = new BatchInference();
        // Without a span to call in, the call to python-inference carried no trace context and started a trace of its
        // own there (and its client span one in the Worker).
        using var tracing = ProductionSampling.Start();

        await Processor(db.Store, inference).ProcessBatchAsync([await UnsampledDeliveryAsync(db, "a", traceId)], Token);

        var calledIn = Assert.Single(inference.CalledIn);
        Assert.NotNull(calledIn);
        Assert.Equal(traceId, calledIn.Value.TraceId);
        Assert.Equal(System.Diagnostics.ActivityTraceFlags.None, calledIn.Value.TraceFlags);
    }

    [Fact]
    public async Task A_refused_job_whose_trace_was_not_sampled_is_logged_in_that_trace()
    {
        await using var db = await TemporaryJobStore.CreateAsync(DatabaseProvider.Sqlite);
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom();
        var logs = new TracedLines();
        // A sampled-out job records no span, but its lines still carry its trace id (docs/operations.md), the one its
        // problem and X-Trace-Id quote.
        using var tracing = ProductionSampling.Start();
        var delivery = await UnsampledDeliveryAsync(db, "bad", traceId);

        await Processor(db.Store, new BatchInference(), logger: logs).ProcessBatchAsync([delivery], Token);

        Assert.Equal(JobStatus.Failed, (await db.Store.FindAsync(delivery.JobId, Token))?.Status);
        var refused = Assert.Single(logs.Written, line => line.Message.Contains("refused its inputs", StringComparison.Ordinal));
        Assert.Equal(traceId, refused.TraceId);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("""{"jobId":"00000000-0000-0000-0000-000000000000"}""")]
    public void Unreadable_job_messages_are_recognised(string body) =>
        Assert.Null(JobMessage.TryParse(System.Text.Encoding.UTF8.GetBytes(body)));

    [Theory]
    [InlineData(1, 1000)]
    [InlineData(2, 10_000)]
    [InlineData(3, 60_000)]
    [InlineData(9, 60_000)]
    public void Retry_delays_grow_per_attempt_and_stay_at_the_last(int failedAttempt, int expectedMilliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMilliseconds), TemporaryJobStore.Messaging.RetryDelayBefore(failedAttempt + 1));

    [Fact]
    public void Configured_retry_delays_replace_the_defaults_rather_than_adding_to_them()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Messaging:RetryDelays:0"] = "00:00:00.200",
                ["Messaging:RetryDelays:1"] = "00:00:00.400",
            })
            .Build();
        var options = new MessagingOptions();

        configuration.GetSection("Messaging").Bind(options);

        Assert.Equal([TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400)], options.EffectiveRetryDelays);
        Assert.Equal(TimeSpan.FromMilliseconds(400), options.RetryDelayBefore(5));
    }

    [Fact]
    public void Retry_queues_are_named_for_their_delay() =>
        Assert.Equal(["jobs.retry.1s", "jobs.retry.10s", "jobs.retry.60s", "jobs.retry.250ms"],
            new[] { 1000, 10_000, 60_000, 250 }.Select(ms => MessagingTopology.RetryQueueName(TemporaryJobStore.Messaging, TimeSpan.FromMilliseconds(ms))));

    [Fact]
    public void A_job_message_round_trips_in_either_form()
    {
        var id = Guid.NewGuid();
        QueuedJob[] jobs = [new(Guid.NewGuid(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), new(Guid.NewGuid(), null)];

        var alone = JobMessage.Of(id).ToBytes();
        Assert.Equal($$"""{"jobId":"{{id}}"}""", System.Text.Encoding.UTF8.GetString(alone.Span)); // what every build reads
        Assert.Equal([new QueuedJob(id, null)], JobMessage.TryParse(alone)?.Jobs);
        Assert.Equal(jobs, JobMessage.TryParse(new JobMessage(jobs).ToBytes())?.Jobs);
    }

    [Theory]
    [InlineData("""{"jobs":[]}""")]
    [InlineData("""{"jobs":[{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}]}""")]
    [InlineData("""{"jobs":[null]}""")]
    [InlineData("""{"jobId":"0af76519-16cd-43dd-8448-eb211c80319c","jobs":[{"id":"0af76519-16cd-43dd-8448-eb211c80319c"}]}""")]
    public void Job_messages_of_several_jobs_name_each_one_or_are_unreadable(string body) =>
        Assert.Null(JobMessage.TryParse(System.Text.Encoding.UTF8.GetBytes(body)));

    [Fact]
    public void Jobs_admitted_together_share_messages_up_to_the_limit_and_a_job_alone_keeps_its_own()
    {
        var now = DateTimeOffset.UtcNow;
        var jobs = Enumerable.Range(0, 5).Select(i => new QueuedJob(Guid.CreateVersion7(), $"trace-{i}")).ToList();

        var messages = JobMessage.For(jobs, "jobs", maxPerMessage: 2, now);

        Assert.Equal([2, 2, 1], messages.Select(message => JobMessage.TryParse(message.Body)!.Jobs.Count));
        Assert.Equal(jobs.Select(job => job.Id), TemporaryJobStore.JobsIn(messages));
        Assert.Equal(["trace-0", "trace-2", "trace-4"], messages.Select(message => message.TraceParent));
        Assert.Equal([null, null, jobs[4].Id], messages.Select(message => message.JobId));
        Assert.Equal(jobs[4].Id, messages[2].Id);
        Assert.Equal(jobs.Count, JobMessage.For(jobs, "jobs", maxPerMessage: 1, now).Count);
    }
}
