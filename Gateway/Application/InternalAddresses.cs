using Gateway.Upstream.Worker;

namespace Gateway.Application;

/// <summary>
/// The job as the public API returns it: its error without internal addresses (ServiceDefaults'
/// <see cref="ServiceDefaults.Problems.InternalAddresses"/>; the Worker scrubs what it shows too, this keeps the edge
/// safe whatever the Worker sends).
/// </summary>
internal static class InternalAddresses
{
    public static JobView Scrub(JobView job) =>
        job.Error is null ? job : job with { Error = ServiceDefaults.Problems.InternalAddresses.Scrub(job.Error) };
}
