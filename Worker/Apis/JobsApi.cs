using System.Diagnostics;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Problems;
using Worker.Security;

namespace Worker.Apis;

public sealed record JobList(IReadOnlyList<JobView> Items, string? NextPageToken);

/// <summary>A job as the gateway forwards it; the owner is the user its token acts for, never a field of the request.</summary>
public sealed record JobRequest(string? Model, JsonElement Inputs, string? CallbackUrl, string? IdempotencyKey);

/// <summary>
/// Several submissions of one user at once (the gateway coalesces concurrent ones): each as <see cref="JobRequest"/>,
/// plus the W3C <c>traceparent</c> of the request it came from, which the job's trace continues.
/// </summary>
public sealed record JobBatchRequest(IReadOnlyList<JobBatchItem>? Jobs);

public sealed record JobBatchItem(string? Model, JsonElement Inputs, string? CallbackUrl, string? IdempotencyKey, string? TraceParent);

/// <summary>What one submission of a batch got: the status <c>POST /v1/jobs</c> would have answered, and its job or problem.</summary>
public sealed record JobBatchResult(int Status, JobView? Job, ProblemDetails? Problem);

public sealed record JobBatchResponse(IReadOnlyList<JobBatchResult> Results);

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
        api.MapPost("/batch", SubmitManyAsync).WithName("SubmitJobs");
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

    /// <summary>The most submissions one batch carries (one admission transaction's worth).</summary>
    public const int MaxJobsPerBatch = JobAdmissions.MaxBatchSize;

    /// <summary>
    /// 200 with one result per submission, in order, each what <see cref="SubmitAsync"/> would have answered it alone
    /// (201, 200, or its problem): one refused submission does not refuse the others. The submissions run together, so
    /// they share the admission transaction and the broker's pipelined confirms. Each runs in a span of its own request's
    /// trace (<see cref="JobBatchItem.TraceParent"/>), linked to this call's, so a job's trace reads as it does when
    /// submitted alone.
    /// </summary>
    public static async Task<Results<Ok<JobBatchResponse>, ProblemHttpResult>> SubmitManyAsync(
        JobBatchRequest request, ClaimsPrincipal user, JobSubmissions jobs, CancellationToken cancellationToken)
    {
        if (request.Jobs is not { Count: > 0 and <= MaxJobsPerBatch } items)
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: new Dictionary<string, string[]>
                {
                    ["jobs"] = [$"Between 1 and {MaxJobsPerBatch} submissions."],
                });
        }

        var owner = Caller.Of(user).User;
        var call = Activity.Current;
        var results = await Task.WhenAll(items.Select(item => SubmitOneAsync(item, owner, call, jobs, cancellationToken)));
        return TypedResults.Ok(new JobBatchResponse(results));
    }

    private static async Task<JobBatchResult> SubmitOneAsync(JobBatchItem item, string? owner, Activity? call, JobSubmissions jobs,
        CancellationToken cancellationToken)
    {
        // A span per submission in its own request's trace (the outbox message and its publication continue it), or
        // under this call's span when the item names no trace.
        var parent = MessagingTelemetry.CarriedContext(item.TraceParent);
        using var span = Telemetry.ActivitySource.StartActivity("submit job", ActivityKind.Internal, parent,
            links: call is null || parent == default ? null : [new ActivityLink(call.Context)]);
        var outcome = await jobs.SubmitAsync(
            new JobSubmission(owner, item.Model, item.Inputs, item.CallbackUrl, item.IdempotencyKey), cancellationToken);
        if (!outcome.Succeeded)
        {
            span?.SetStatus(ActivityStatusCode.Error, ProblemDetailsContract.CodeOf(outcome.Problem));
            return new JobBatchResult(outcome.Problem.Status ?? StatusCodes.Status500InternalServerError, null, outcome.Problem);
        }

        var (job, created) = outcome.Value;
        return new JobBatchResult(created ? StatusCodes.Status201Created : StatusCodes.Status200OK, JobView.From(job), null);
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
