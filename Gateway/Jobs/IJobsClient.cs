using Gateway.Upstream;

namespace Gateway.Jobs;

/// <summary>The Worker's job API as the gateway sees it.</summary>
public interface IJobsClient
{
    /// <summary>Queues a job owned by <paramref name="owner"/> (the caller's subject).</summary>
    Task<UpstreamResult<JobView>> SubmitAsync(JobSubmission submission, string owner, CancellationToken cancellationToken);

    /// <summary>Reads a job; one owned by another subject is not found.</summary>
    Task<UpstreamResult<JobView>> GetAsync(Guid id, string owner, CancellationToken cancellationToken);
}
