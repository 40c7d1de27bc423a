using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Worker.Messaging;
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
    /// idempotency key, stores nothing and returns that job; if the owner would have more than
    /// <paramref name="maxUnfinished"/> unfinished jobs with this one, stores nothing (decided in the database, under a
    /// per-owner lock, so it holds for concurrent submissions on any number of replicas).
    /// </summary>
    Task<JobAdmission> AddAsync(Job job, string requestHash, int maxUnfinished, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="AddAsync(Job, string, int, CancellationToken)"/> for many jobs in one transaction: one admission per job,
    /// in order (each owner's quota counts the jobs of the batch in order). The jobs it stores share queue messages
    /// (<see cref="JobMessage.For"/>), each admission naming its own. Throws (and stores nothing) if any job cannot be stored.
    /// </summary>
    Task<IReadOnlyList<JobAdmission>> AddAsync(IReadOnlyList<JobToAdmit> jobs, CancellationToken cancellationToken);

    Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>The job's callback URL alone (null when it has none or is unknown), without reading the whole job.</summary>
    Task<string?> FindCallbackUrlAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>An owner's jobs, newest first, optionally of one status.</summary>
    Task<JobPage> ListAsync(string owner, JobStatus? status, int pageSize, string? pageToken, CancellationToken cancellationToken);

    /// <summary>Removes jobs that were never accepted (their message could not be queued), with that message.</summary>
    Task RemoveAsync(IReadOnlyCollection<Guid> ids, Guid messageId, CancellationToken cancellationToken);

    /// <summary>Marks an unfinished job running and counts the attempt; null when the job is unknown or finished.</summary>
    Task<Job?> TryStartAttemptAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Marks the unfinished jobs among <paramref name="ids"/> running in one statement, counting an attempt each; returns them.</summary>
    Task<IReadOnlyList<Job>> TryStartAttemptsAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);

    /// <summary>Puts a running job back to queued before a retry.</summary>
    Task RequeueAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Puts running jobs back to queued before a retry.</summary>
    Task RequeueAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);

    /// <summary>
    /// Puts a failed job back to queued, with no attempts counted and no error, and its new queue message with it (an
    /// operator requeues it from the dead-letter queue); false when the job is unknown or did not fail.
    /// </summary>
    Task<bool> TryReviveAsync(Guid id, OutboxMessage message, CancellationToken cancellationToken);

    /// <summary>Records the result unless the job already finished; true when this call recorded it (and queued <paramref name="announcement"/>).</summary>
    Task<bool> TrySucceedAsync(Guid id, JsonElement result, OutboxMessage? announcement, CancellationToken cancellationToken);

    /// <summary>Records the failure unless the job already finished; true when this call recorded it (and queued <paramref name="announcement"/>).</summary>
    Task<bool> TryFailAsync(Guid id, ProblemDetails problem, OutboxMessage? announcement, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes up to <paramref name="limit"/> jobs that finished before <paramref name="finishedBefore"/>, with their audit
    /// rows, in one transaction; returns how many jobs went. Replicas sweeping at once take different rows.
    /// </summary>
    Task<int> PurgeFinishedAsync(DateTimeOffset finishedBefore, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Records many outcomes in one transaction, each unless its job already finished; returns the ids this call
    /// recorded (only their announcements are queued).
    /// </summary>
    Task<IReadOnlySet<Guid>> TryFinishAsync(IReadOnlyList<JobFinish> outcomes, CancellationToken cancellationToken);
}

/// <summary>
/// A new job for <see cref="IJobStore.AddAsync(IReadOnlyList{JobToAdmit}, CancellationToken)"/>, with the most unfinished
/// jobs its owner may have and the trace of its submission (which its queue message carries).
/// </summary>
public sealed record JobToAdmit(Job Job, string RequestHash, int MaxUnfinished, string? TraceParent = null);

/// <summary>How a job ended, for <see cref="IJobStore.TryFinishAsync"/>: a result or an error, and the event that announces it.</summary>
public sealed record JobFinish(Guid Id, JobStatus Status, JsonElement? Result, ProblemDetails? Error, OutboxMessage? Announcement)
{
    public static JobFinish Succeeded(Guid id, JsonElement result, OutboxMessage? announcement) =>
        new(id, JobStatus.Succeeded, result, null, announcement);

    public static JobFinish Failed(Guid id, ProblemDetails error, OutboxMessage? announcement) =>
        new(id, JobStatus.Failed, null, error, announcement);
}
