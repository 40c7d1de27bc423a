using System.Text.Json;
using Microsoft.AspNetCore.Mvc;

namespace Worker.Jobs;

/// <summary>
/// Durable job state. The transitions are conditional, so a job redelivered after a crash or to a second
/// consumer is recorded once: a finished job never changes again.
/// </summary>
public interface IJobStore
{
    Task InitializeAsync(CancellationToken cancellationToken);

    Task AddAsync(Job job, CancellationToken cancellationToken);

    Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Removes a job that was never accepted (its message could not be queued).</summary>
    Task RemoveAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Marks an unfinished job running and counts the attempt; null when the job is unknown or finished.</summary>
    Task<Job?> TryStartAttemptAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Puts a running job back to queued before a retry.</summary>
    Task RequeueAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Records the result unless the job already finished; true when this call recorded it.</summary>
    Task<bool> TrySucceedAsync(Guid id, JsonElement result, CancellationToken cancellationToken);

    /// <summary>Records the failure unless the job already finished; true when this call recorded it.</summary>
    Task<bool> TryFailAsync(Guid id, ProblemDetails problem, CancellationToken cancellationToken);
}
