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

/// <summary>
/// One delivery of a job, as business steps: start an attempt, predict, record the outcome together with the
/// event that announces it. Whether a failed attempt is retried is the consumer's decision (the attempt count
/// travels with the message).
/// </summary>
internal sealed partial class JobProcessor(
    IJobStore store, IInferenceClient inference, IOptions<MessagingOptions> options, TimeProvider clock,
    JobMetrics metrics, ILogger<JobProcessor> logger)
{
    public async Task<JobProcessingOutcome> ProcessAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var job = await store.TryStartAttemptAsync(jobId, cancellationToken);
        if (job is null)
        {
            LogSkipped(logger, jobId);
            return JobProcessingOutcome.Done;
        }

        switch (await inference.PredictAsync(job.Model, job.Inputs, cancellationToken))
        {
            case InferenceOutcome.Succeeded succeeded:
                if (await store.TrySucceedAsync(job.Id, succeeded.Response,
                        JobEvents.Completed(job, succeeded.Response, options.Value, clock.GetUtcNow()), cancellationToken))
                {
                    metrics.Completed(job, clock.GetUtcNow());
                }

                return JobProcessingOutcome.Done;

            case InferenceOutcome.Rejected rejected:
                if (await store.TryFailAsync(job.Id, rejected.Problem,
                        JobEvents.Failed(job, rejected.Problem, options.Value, clock.GetUtcNow()), cancellationToken))
                {
                    var code = ProblemCodeOf(rejected.Problem);
                    metrics.Failed(job, code, clock.GetUtcNow());
                    LogRejected(logger, job.Id, job.Model, code);
                }

                return JobProcessingOutcome.Done;

            case InferenceOutcome.Unavailable unavailable:
                await store.RequeueAsync(job.Id, cancellationToken);
                return new JobProcessingOutcome.RetryLater(unavailable.Reason);

            default:
                throw new InvalidOperationException("Unknown inference outcome.");
        }
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
