using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>The Worker's job API as the gateway sees it.</summary>
public interface IJobsClient
{
    /// <summary>
    /// Queues a job owned by <paramref name="owner"/> (the caller's subject). With an <paramref name="idempotencyKey"/>
    /// the owner already used for the same body, returns that job instead of queueing a second one.
    /// </summary>
    Task<Outcome<JobView>> SubmitAsync(JobSubmission submission, string owner, string? idempotencyKey,
        CancellationToken cancellationToken);

    /// <summary>The owner's jobs, newest first, optionally of one status.</summary>
    Task<Outcome<JobList>> ListAsync(string owner, string? status, int? pageSize, string? pageToken,
        CancellationToken cancellationToken);

    /// <summary>Reads a job; one owned by another subject is not found.</summary>
    Task<Outcome<JobView>> GetAsync(Guid id, string owner, CancellationToken cancellationToken);
}
