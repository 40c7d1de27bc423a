using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Worker.Jobs;
using Worker.Problems;
using Worker.Security;

namespace Worker.Apis;

public sealed record JobList(IReadOnlyList<JobView> Items, string? NextPageToken);

/// <summary>A job as the gateway forwards it; the owner is the user its token acts for, never a field of the request.</summary>
public sealed record JobRequest(string? Model, JsonElement Inputs, string? CallbackUrl, string? IdempotencyKey);

/// <summary>
/// The Worker's internal job API (the gateway is its only caller, acting for the user its token names): a translation
/// of <see cref="JobSubmissions"/>. Every route needs the scope <c>jobs</c>; a user sees only its own jobs.
/// </summary>
public static class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/jobs").WithTags("Jobs").RequireScope(WorkerScopes.Jobs);
        api.MapPost("/", SubmitAsync).WithName("SubmitJob");
        api.MapGet("/{id:guid}", GetAsync).WithName("GetJob");
        api.MapGet("/", ListAsync).WithName("ListJobs");
        return app;
    }

    /// <summary>201 once the job is stored and queued; 200 with the earlier job when the same request is repeated.</summary>
    public static async Task<Results<Created<JobView>, Ok<JobView>, ProblemHttpResult>> SubmitAsync(
        JobRequest request, ClaimsPrincipal user, JobSubmissions jobs, CancellationToken cancellationToken)
    {
        var submission = new JobSubmission(Caller.Of(user).User, request.Model, request.Inputs, request.CallbackUrl,
            request.IdempotencyKey);
        var outcome = await jobs.SubmitAsync(submission, cancellationToken);
        if (!outcome.Succeeded)
        {
            return outcome.ToProblemResult();
        }

        var (job, created) = outcome.Value;
        return created ? TypedResults.Created($"/v1/jobs/{job.Id}", JobView.From(job)) : TypedResults.Ok(JobView.From(job));
    }

    public static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(
        Guid id, ClaimsPrincipal user, JobSubmissions jobs, CancellationToken cancellationToken)
    {
        var outcome = await jobs.GetAsync(id, Caller.Of(user).User, cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(JobView.From(outcome.Value)) : outcome.ToProblemResult();
    }

    public static async Task<Results<Ok<JobList>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal user, string? status, int? pageSize, string? pageToken, JobSubmissions jobs,
        CancellationToken cancellationToken)
    {
        var outcome = await jobs.ListAsync(Caller.Of(user).User, status, pageSize, pageToken, cancellationToken);
        return outcome.Succeeded
            ? TypedResults.Ok(new JobList(outcome.Value.Jobs.Select(JobView.From).ToList(), outcome.Value.NextPageToken))
            : outcome.ToProblemResult();
    }
}
