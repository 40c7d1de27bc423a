using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using Worker.Events;
using Worker.Inference;
using Worker.Messaging;

namespace Worker.Jobs;

/// <summary>What became of one delivery of a job.</summary>
public abstract record JobProcessingOutcome
{
    /// <summary>The outcome is recorded (or was already): acknowledge the message.</summary>
    public sealed record Finished : JobProcessingOutcome;

    /// <summary>Nothing is recorded; another attempt may succeed (python-inference unavailable or failing).</summary>
    public sealed record RetryLater(string Reason) : JobProcessingOutcome;

    public static readonly JobProcessingOutcome Done = new Finished();
}

/// <summary>One delivery of a job: its id, and the trace it continues (the delivery's span).</summary>
public sealed record JobDelivery(Guid JobId, string? TraceParent);

/// <summary>
/// Deliveries of jobs, as business steps, a batch at a time: start an attempt of each (one statement), predict (one
/// model call per model), record every outcome together with the event that announces it (one transaction). Whether
/// a failed attempt is retried is the consumer's decision (the attempt count travels with the message).
/// </summary>
internal sealed partial class JobProcessor(
    IJobStore store, IInferenceClient inference, IOptions<MessagingOptions> options, TimeProvider clock,
    JobMetrics metrics, ILogger<JobProcessor> logger)
{
    /// <summary>The most inputs one model call of a batch carries (a larger job is a call of its own).</summary>
    internal const int MaxInputsPerCall = 2000;

    public async Task<JobProcessingOutcome> ProcessAsync(Guid jobId, CancellationToken cancellationToken) =>
        (await ProcessBatchAsync([new JobDelivery(jobId, Activity.Current?.Id)], cancellationToken))[0];

    /// <summary>One outcome per delivery, in order (a job delivered twice in one batch is processed once).</summary>
    public async Task<IReadOnlyList<JobProcessingOutcome>> ProcessBatchAsync(IReadOnlyList<JobDelivery> deliveries,
        CancellationToken cancellationToken)
    {
        var traces = deliveries.DistinctBy(delivery => delivery.JobId).ToDictionary(delivery => delivery.JobId, delivery => delivery.TraceParent);
        var started = await store.TryStartAttemptsAsync(traces.Keys, cancellationToken);

        var outcomes = new Dictionary<Guid, JobProcessingOutcome>();
        var finishes = new List<JobFinish>();
        var requeue = new List<Guid>();
        foreach (var (job, predicted) in await PredictAsync(started, traces, cancellationToken))
        {
            var now = clock.GetUtcNow();
            switch (predicted)
            {
                case InferenceOutcome.Succeeded succeeded:
                    finishes.Add(JobFinish.Succeeded(job.Id, succeeded.Response,
                        JobEvents.Completed(job, succeeded.Response, options.Value, now, traces[job.Id])));
                    outcomes[job.Id] = JobProcessingOutcome.Done;
                    break;

                case InferenceOutcome.Rejected rejected:
                    finishes.Add(JobFinish.Failed(job.Id, rejected.Problem,
                        JobEvents.Failed(job, rejected.Problem, options.Value, now, traces[job.Id])));
                    outcomes[job.Id] = JobProcessingOutcome.Done;
                    break;

                case InferenceOutcome.Unavailable unavailable:
                    requeue.Add(job.Id);
                    outcomes[job.Id] = new JobProcessingOutcome.RetryLater(unavailable.Reason);
                    break;

                default:
                    throw new InvalidOperationException("Unknown inference outcome.");
            }
        }

        var recorded = await store.TryFinishAsync(finishes, cancellationToken);
        RecordFinished(started, finishes, recorded, traces);
        await store.RequeueAsync(requeue, cancellationToken);
        return [.. deliveries.Select(delivery => outcomes.GetValueOrDefault(delivery.JobId) ?? Skipped(delivery.JobId))];
    }

    /// <summary>
    /// The started jobs' predictions: one call per model (split where a call would pass <see cref="MaxInputsPerCall"/>),
    /// each in a span that continues the first job's trace and links the others.
    /// </summary>
    private async Task<List<(Job Job, InferenceOutcome Outcome)>> PredictAsync(IReadOnlyList<Job> jobs,
        Dictionary<Guid, string?> traces, CancellationToken cancellationToken)
    {
        var predicted = new List<(Job, InferenceOutcome)>(jobs.Count);
        foreach (var call in CallsOf(jobs))
        {
            var contexts = call.Select(job => MessagingTelemetry.CarriedContext(traces[job.Id]))
                .Where(context => context != default).ToList();
            using var activity = Telemetry.ActivitySource.StartActivity($"predict {call.Count} jobs", ActivityKind.Internal,
                contexts.FirstOrDefault(), links: contexts.Skip(1).Select(context => new ActivityLink(context)));
            activity?.SetTag("jobs.count", call.Count);
            var outcomes = await inference.PredictManyAsync(call[0].Model, [.. call.Select(job => job.Inputs)], cancellationToken);
            predicted.AddRange(call.Zip(outcomes));
        }

        return predicted;
    }

    private static IEnumerable<List<Job>> CallsOf(IReadOnlyList<Job> jobs)
    {
        foreach (var model in jobs.GroupBy(job => job.Model, StringComparer.Ordinal))
        {
            var call = new List<Job>();
            var inputs = 0;
            foreach (var job in model)
            {
                var count = job.Inputs.ValueKind == JsonValueKind.Array ? job.Inputs.GetArrayLength() : 0;
                if (call.Count > 0 && inputs + count > MaxInputsPerCall)
                {
                    yield return call;
                    (call, inputs) = ([], 0);
                }

                call.Add(job);
                inputs += count;
            }

            yield return call;
        }
    }

    /// <summary>
    /// Counts the outcomes this batch recorded (a redelivered job that had already finished is not counted again). A
    /// batch runs outside any job's trace, so a failure is logged in a span of the failed job's own trace, where its
    /// trace id (the one its problem quotes) finds it.
    /// </summary>
    private void RecordFinished(IReadOnlyList<Job> started, List<JobFinish> finishes, IReadOnlySet<Guid> recorded,
        Dictionary<Guid, string?> traces)
    {
        var now = clock.GetUtcNow();
        var jobs = started.ToDictionary(job => job.Id);
        foreach (var finish in finishes.Where(finish => recorded.Contains(finish.Id)))
        {
            var job = jobs[finish.Id];
            if (finish.Status == JobStatus.Succeeded)
            {
                metrics.Completed(job, now);
                continue;
            }

            var code = ProblemCodeOf(finish.Error!);
            metrics.Failed(job, code, now);
            // Read as remote, as every carried traceparent is: beneath a job that was not sampled the span is then
            // created unrecorded, and the line below still carries the job's trace id.
            var parent = MessagingTelemetry.CarriedContext(traces[job.Id]);
            using var failed = parent != default
                ? Telemetry.ActivitySource.StartActivity("job failed", ActivityKind.Internal, parent)
                : null;
            failed?.SetTag("job.id", job.Id.ToString());
            failed?.SetTag("error.type", code);
            failed?.SetStatus(ActivityStatusCode.Error, code);
            LogRejected(logger, job.Id, job.Model, code);
        }
    }

    private JobProcessingOutcome Skipped(Guid jobId)
    {
        LogSkipped(logger, jobId);
        return JobProcessingOutcome.Done;
    }

    /// <summary>
    /// Records that the job failed for good after <paramref name="attempts"/> deliveries (its message is in the
    /// dead-letter queue by now).
    /// </summary>
    public async Task GiveUpAsync(Guid jobId, int attempts, string reason, CancellationToken cancellationToken)
    {
        var found = await store.FindAsync(jobId, cancellationToken);
        metrics.DeadLettered(found?.Model);
        if (found is not { IsFinished: false } job)
        {
            return;
        }

        var problem = ProblemDetailsContract.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.UpstreamUnavailable,
            "The job could not be processed.", $"Gave up after {attempts} attempts. Last error: {reason}");
        if (await store.TryFailAsync(job.Id, problem, JobEvents.Failed(job, problem, options.Value, clock.GetUtcNow()),
                cancellationToken))
        {
            metrics.Failed(job, ProblemCodes.UpstreamUnavailable, clock.GetUtcNow());
            LogGaveUp(logger, job.Id, attempts, reason);
        }
    }

    private static string ProblemCodeOf(Microsoft.AspNetCore.Mvc.ProblemDetails problem) =>
        problem.Extensions.TryGetValue("code", out var code) && code?.ToString() is { Length: > 0 } text ? text : $"{problem.Status}";

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} is unknown or already finished; delivery skipped.")]
    private static partial void LogSkipped(ILogger logger, Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} failed: python-inference refused its inputs for {Model} ({ProblemCode}).")]
    private static partial void LogRejected(ILogger logger, Guid jobId, string model, string problemCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed for good after {Attempts} attempts: {Reason}")]
    private static partial void LogGaveUp(ILogger logger, Guid jobId, int attempts, string reason);
}
