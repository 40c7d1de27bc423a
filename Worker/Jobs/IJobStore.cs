using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Worker.Messaging.Outbox;

namespace Worker.Jobs;

/// <summary>
/// Durable job state. The transitions are conditional, so a job redelivered after a crash or to a second
/// consumer is recorded once: a finished job never changes again. Every change that must be announced takes its
/// message with it, written to the outbox in the same transaction.
/// </summary>
public interface IJobStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores a queued job and its queue message together; if the owner already submitted a job under the same
    /// idempotency key, stores nothing and returns that job.
    /// </summary>
    Task<JobAdmission> AddAsync(Job job, string requestHash, OutboxMessage message, CancellationToken cancellationToken);

    Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>An owner's jobs, newest first, optionally of one status.</summary>
    Task<JobPage> ListAsync(string owner, JobStatus? status, int pageSize, string? pageToken, CancellationToken cancellationToken);

    /// <summary>Removes a job that was never accepted (its message could not be queued), with that message.</summary>
    Task RemoveAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Marks an unfinished job running and counts the attempt; null when the job is unknown or finished.</summary>
    Task<Job?> TryStartAttemptAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Puts a running job back to queued before a retry.</summary>
    Task RequeueAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>
    /// Puts a failed job back to queued, with no attempts counted and no error, and its new queue message with it (an
    /// operator requeues it from the dead-letter queue); false when the job is unknown or did not fail.
    /// </summary>
    Task<bool> TryReviveAsync(Guid id, OutboxMessage message, CancellationToken cancellationToken);

    /// <summary>Records the result unless the job already finished; true when this call recorded it (and queued <paramref name="announcement"/>).</summary>
    Task<bool> TrySucceedAsync(Guid id, JsonElement result, OutboxMessage? announcement, CancellationToken cancellationToken);

    /// <summary>Records the failure unless the job already finished; true when this call recorded it (and queued <paramref name="announcement"/>).</summary>
    Task<bool> TryFailAsync(Guid id, ProblemDetails problem, OutboxMessage? announcement, CancellationToken cancellationToken);
}
