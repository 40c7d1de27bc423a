using Microsoft.AspNetCore.Http.HttpResults;
using Worker.Jobs;
using Worker.Problems;

namespace Worker.Apis;

public sealed record JobList(IReadOnlyList<JobView> Items, string? NextPageToken);

/// <summary>The Worker's internal job API (the gateway is its only caller): a translation of <see cref="JobSubmissions"/>.</summary>
public static class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/jobs").WithTags("Jobs");
        api.MapPost("/", SubmitAsync).WithName("SubmitJob");
        api.MapGet("/{id:guid}", GetAsync).WithName("GetJob");
        api.MapGet("/", ListAsync).WithName("ListJobs");
        return app;
    }

    /// <summary>201 once the job is stored and queued; 200 with the earlier job when the same request is repeated.</summary>
    public static async Task<Results<Created<JobView>, Ok<JobView>, ProblemHttpResult>> SubmitAsync(
        JobSubmission submission, JobSubmissions jobs, CancellationToken cancellationToken)
    {
        var outcome = await jobs.SubmitAsync(submission, cancellationToken);
        if (!outcome.Succeeded)
        {
            return outcome.ToProblemResult();
        }

        var (job, created) = outcome.Value;
        return created ? TypedResults.Created($"/v1/jobs/{job.Id}", JobView.From(job)) : TypedResults.Ok(JobView.From(job));
    }

    public static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(
        Guid id, string? owner, JobSubmissions jobs, CancellationToken cancellationToken)
    {
        var outcome = await jobs.GetAsync(id, owner, cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(JobView.From(outcome.Value)) : outcome.ToProblemResult();
    }

    public static async Task<Results<Ok<JobList>, ProblemHttpResult>> ListAsync(
        string? owner, string? status, int? pageSize, string? pageToken, JobSubmissions jobs, CancellationToken cancellationToken)
    {
        var outcome = await jobs.ListAsync(owner, status, pageSize, pageToken, cancellationToken);
        return outcome.Succeeded
            ? TypedResults.Ok(new JobList(outcome.Value.Jobs.Select(JobView.From).ToList(), outcome.Value.NextPageToken))
            : outcome.ToProblemResult();
    }
}
