using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using Worker.Messaging;
using Worker.Problems;
using Worker.Webhooks;

namespace Worker.Jobs;

/// <summary>A job as the gateway forwards it: the client's body, its idempotency key, and the subject that submitted it.</summary>
public sealed record JobSubmission(string? Owner, string? Model, JsonElement Inputs, string? CallbackUrl, string? IdempotencyKey);

/// <summary>The job a submission stands for, and whether this call created it (false: the same request came before).</summary>
public sealed record SubmittedJob(Job Job, bool Created);

/// <summary>
/// Jobs as their submitters see them: submit one (validated, idempotent per key, stored and queued together), read
/// one of their own, list theirs. The Worker's job API is a translation of these onto HTTP.
/// </summary>
public sealed class JobSubmissions(
    IJobStore store, JobAdmissions admissions, CallbackUrlPolicy callbacks, IOptions<JobsOptions> jobsOptions,
    IOptions<MessagingOptions> messagingOptions, TimeProvider clock, JobMetrics metrics)
{
    /// <summary>
    /// Stores the job and its queue message in one transaction, shared with the submissions of the same moment (group
    /// commit) as the message is, unless the owner has their quota of unfinished jobs (429); answers only once the broker
    /// confirmed the message (publishes are pipelined on one channel, each awaiting its own confirm). If it does not
    /// confirm (down, or the queue is full and nacks), the message's jobs and the message are deleted again (503). If
    /// this process dies in between, the outbox relay publishes the message later: the store and the queue agree.
    /// </summary>
    public async Task<Outcome<SubmittedJob>> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken)
    {
        var inputCount = submission.Inputs.ValueKind == JsonValueKind.Array ? submission.Inputs.GetArrayLength() : 0;
        var maxBatchSize = jobsOptions.Value.MaxBatchSize;
        if (string.IsNullOrWhiteSpace(submission.Owner) || string.IsNullOrWhiteSpace(submission.Model)
            || inputCount == 0 || inputCount > maxBatchSize)
        {
            return Outcome.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The job is not valid.", $"A job needs an owner, a model and between 1 and {maxBatchSize} inputs.");
        }

        if (submission.CallbackUrl is not null
            && await callbacks.ValidateAsync(submission.CallbackUrl, cancellationToken) is { IsAllowed: false, Reason: var reason })
        {
            return Outcome.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: new Dictionary<string, string[]> { ["callbackUrl"] = [reason!] });
        }

        var job = Job.Queued(Guid.CreateVersion7(), submission.Owner, submission.Model, submission.Inputs.Clone(),
            clock.GetUtcNow(), submission.CallbackUrl, submission.IdempotencyKey);
        var (admission, queued) = await admissions.AddAsync(job, RequestHash(submission),
            jobsOptions.Value.MaxUnfinishedFor(job.Owner), Activity.Current?.Id, cancellationToken);
        if (admission.OverQuota)
        {
            return Outcome.Problem(StatusCodes.Status429TooManyRequests, ProblemCodes.JobQuotaExceeded,
                    "Too many unfinished jobs.",
                    $"At most {jobsOptions.Value.MaxUnfinishedFor(job.Owner)} of your jobs may be queued or running at once; " +
                    "submit again once some have finished.")
                .WithRetryAfter(jobsOptions.Value.QuotaRetryAfter);
        }

        if (!admission.Created)
        {
            return admission.SameRequest
                ? new SubmittedJob(admission.Job, Created: false)
                : Outcome.Problem(StatusCodes.Status422UnprocessableEntity, ProblemCodes.IdempotencyKeyReused,
                    "The idempotency key was used for another request.",
                    "A retried submission must repeat the original body; use a new Idempotency-Key for a new job.");
        }

        try
        {
            await queued.WaitAsync(cancellationToken);
        }
        catch (BrokerUnavailableException exception)
        {
            // Not accepted: the job and its message are gone (JobAdmissions), so the relay never publishes what the
            // client was refused.
            return (exception.Refused
                    ? Outcome.Problem(StatusCodes.Status503ServiceUnavailable, ProblemCodes.QueueFull,
                        "The job queue is full. Try again shortly.", "The job was not accepted.")
                    : Outcome.Problem(StatusCodes.Status503ServiceUnavailable, ProblemCodes.BrokerUnavailable,
                        "The job queue is unavailable. Try again shortly.", exception.Message))
                .WithRetryAfter(messagingOptions.Value.RetryAfter);
        }

        metrics.Submitted(job);
        return new SubmittedJob(job, Created: true);
    }

    /// <summary>A job another subject submitted is reported as absent, so ids cannot be probed.</summary>
    public async Task<Outcome<Job>> GetAsync(Guid id, string? owner, CancellationToken cancellationToken) =>
        await store.FindAsync(id, cancellationToken) is { } job && job.Owner == owner
            ? job
            : Outcome.Problem(StatusCodes.Status404NotFound, ProblemCodes.JobNotFound, "No such job.", $"There is no job {id}.");

    /// <summary>An owner's jobs, newest first, optionally of one status, a page at a time.</summary>
    public async Task<Outcome<JobPage>> ListAsync(string? owner, string? status, int? pageSize, string? pageToken,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(owner))
        {
            errors["owner"] = ["The owner is required."];
        }

        JobStatus? wanted = null;
        if (status is not null)
        {
            if (Enum.TryParse<JobStatus>(status, ignoreCase: true, out var parsed) && !int.TryParse(status, out _))
            {
                wanted = parsed;
            }
            else
            {
                errors["status"] = ["One of queued, running, succeeded, failed."];
            }
        }

        var size = pageSize ?? 20;
        var maxPageSize = jobsOptions.Value.MaxPageSize;
        if (size < 1 || size > maxPageSize)
        {
            errors["pageSize"] = [$"Between 1 and {maxPageSize}."];
        }

        if (pageToken is not null && PageToken.TryParse(pageToken) is null)
        {
            errors["pageToken"] = ["Use the nextPageToken of the previous page."];
        }

        if (errors.Count > 0)
        {
            return Outcome.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: errors);
        }

        return await store.ListAsync(owner!, wanted, size, pageToken, cancellationToken);
    }

    // What makes two submissions "the same request" for an idempotency key: model, inputs and callback.
    private static string RequestHash(JobSubmission submission) => Convert.ToHexStringLower(SHA256.HashData(
        Encoding.UTF8.GetBytes($"{submission.Model}\n{submission.Inputs.GetRawText()}\n{submission.CallbackUrl}")));
}
