using Microsoft.AspNetCore.Mvc;
using Worker.Jobs;

namespace Worker.Tests.Jobs;

/// <summary>What the Worker shows outside (its API and every webhook body) never names where things run.</summary>
public sealed class JobViewTests
{
    [Fact]
    public void A_failed_jobs_error_is_shown_without_internal_addresses_and_the_stored_job_keeps_its_own()
    {
        var error = new ProblemDetails
        {
            Title = "python-inference is unavailable.",
            Detail = "Connection refused (10.1.2.3:5001) calling http://python-inference:8000/v1/predict then worker-0.jobs:7001.",
            Status = 502,
            Extensions = { ["code"] = "upstream_unavailable" },
        };
        var job = Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse("""["x"]"""), DateTimeOffset.UtcNow)
            with { Status = JobStatus.Failed, Error = error };

        var view = JobView.From(job);

        Assert.Equal(
            "Connection refused ([internal address]) calling [internal address] then [internal address].",
            view.Error!.Detail);
        Assert.Equal("upstream_unavailable", view.Error.Extensions["code"]);
        Assert.Equal(502, view.Error.Status);
        // The view is a copy: the job as stored (and as its events carry it) is unchanged.
        Assert.Contains("10.1.2.3:5001", job.Error!.Detail, StringComparison.Ordinal);
    }
}
