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

    /// <summary>
    /// <see cref="AddAsync(Job, string, OutboxMessage, CancellationToken)"/> for many jobs in one transaction: one
    /// admission per job, in order. Throws (and stores nothing) if any job cannot be stored.
    /// </summary>
    Task<IReadOnlyList<JobAdmission>> AddAsync(IReadOnlyList<JobToAdmit> jobs, CancellationToken cancellationToken);

    Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>An owner's jobs, newest first, optionally of one status.</summary>
    Task<JobPage> ListAsync(string owner, JobStatus? status, int pageSize, string? pageToken, CancellationToken cancellationToken);

    /// <summary>Removes a job that was never accepted (its message could not be queued), with that message.</summary>
    Task RemoveAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Marks an unfinished job running and counts the attempt; null when the job is unknown or finished.</summary>
    Task<Job?> TryStartAttemptAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Marks the unfinished jobs among <paramref name="ids"/> running in one statement, counting an attempt each; returns them.</summary>
    Task<IReadOnlyList<Job>> TryStartAttemptsAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);

    /// <summary>Puts a running job back to queued before a retry.</summary>
    Task RequeueAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Puts running jobs back to queued before a retry.</summary>
    Task RequeueAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);

    /// <summary>Records the result unless the job already finished; true when this call recorded it (and queued <paramref name="announcement"/>).</summary>
    Task<bool> TrySucceedAsync(Guid id, JsonElement result, OutboxMessage? announcement, CancellationToken cancellationToken);

    /// <summary>Records the failure unless the job already finished; true when this call recorded it (and queued <paramref name="announcement"/>).</summary>
    Task<bool> TryFailAsync(Guid id, ProblemDetails problem, OutboxMessage? announcement, CancellationToken cancellationToken);

    /// <summary>
    /// Records many outcomes in one transaction, each unless its job already finished; returns the ids this call
    /// recorded (only their announcements are queued).
    /// </summary>
    Task<IReadOnlySet<Guid>> TryFinishAsync(IReadOnlyList<JobFinish> outcomes, CancellationToken cancellationToken);
}

/// <summary>A new job for <see cref="IJobStore.AddAsync(IReadOnlyList{JobToAdmit}, CancellationToken)"/>, with its queue message.</summary>
public sealed record JobToAdmit(Job Job, string RequestHash, OutboxMessage Message);

/// <summary>How a job ended, for <see cref="IJobStore.TryFinishAsync"/>: a result or an error, and the event that announces it.</summary>
public sealed record JobFinish(Guid Id, JobStatus Status, JsonElement? Result, ProblemDetails? Error, OutboxMessage? Announcement)
{
    public static JobFinish Succeeded(Guid id, JsonElement result, OutboxMessage? announcement) =>
        new(id, JobStatus.Succeeded, result, null, announcement);

    public static JobFinish Failed(Guid id, ProblemDetails error, OutboxMessage? announcement) =>
        new(id, JobStatus.Failed, null, error, announcement);
}
