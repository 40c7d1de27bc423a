using Gateway.Upstream;

namespace Gateway.Jobs;

/// <summary>The Worker's job API as the gateway sees it.</summary>
public interface IJobsClient
{
    Task<UpstreamResult<JobView>> SubmitAsync(JobSubmission submission, CancellationToken cancellationToken);

    Task<UpstreamResult<JobView>> GetAsync(Guid id, CancellationToken cancellationToken);
}
