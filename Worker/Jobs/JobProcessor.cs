using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using Worker.Inference;

namespace Worker.Jobs;

public enum JobProcessingOutcome
{
    /// <summary>The outcome is recorded (or was already): acknowledge the message.</summary>
    Finished,

    /// <summary>python-inference is unavailable: put the message back and try again later.</summary>
    RetryLater,
}

/// <summary>One delivery of a job, as business steps: start an attempt, predict, record the outcome.</summary>
internal sealed partial class JobProcessor(
    IJobStore store, IInferenceClient inference, IOptions<JobsOptions> options, ILogger<JobProcessor> logger)
{
    public async Task<JobProcessingOutcome> ProcessAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var job = await store.TryStartAttemptAsync(jobId, cancellationToken);
        if (job is null)
        {
            LogSkipped(logger, jobId);
            return JobProcessingOutcome.Finished;
        }

        switch (await inference.PredictAsync(job.Model, job.Inputs, cancellationToken))
        {
            case InferenceOutcome.Succeeded succeeded:
                await store.TrySucceedAsync(job.Id, succeeded.Response, cancellationToken);
                return JobProcessingOutcome.Finished;

            case InferenceOutcome.Rejected rejected:
                await store.TryFailAsync(job.Id, rejected.Problem, cancellationToken);
                return JobProcessingOutcome.Finished;

            case InferenceOutcome.Unavailable unavailable when job.Attempts < options.Value.MaxAttempts:
                LogRetry(logger, job.Id, job.Attempts, unavailable.Reason);
                await store.RequeueAsync(job.Id, cancellationToken);
                return JobProcessingOutcome.RetryLater;

            case InferenceOutcome.Unavailable unavailable:
                await store.TryFailAsync(job.Id, new ProblemDetails
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "python-inference stayed unavailable.",
                    Detail = $"Gave up after {job.Attempts} attempts. {unavailable.Reason}",
                    Type = ProblemCodes.TypeUri(ProblemCodes.UpstreamUnavailable),
                    Extensions = { ["code"] = ProblemCodes.UpstreamUnavailable },
                }, cancellationToken);
                return JobProcessingOutcome.Finished;

            default:
                throw new InvalidOperationException("Unknown inference outcome.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} is unknown or already finished; delivery skipped.")]
    private static partial void LogSkipped(ILogger logger, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} will be retried: {Reason}")]
    private static partial void LogRetry(ILogger logger, Guid jobId, int attempt, string reason);
}
