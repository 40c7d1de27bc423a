using System.Security.Claims;
using Gateway.Application;
using Gateway.Limits;
using Gateway.RateLimiting;
using Gateway.Security;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Apis;

public static class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/jobs").WithTags("Jobs");

        api.MapPost("/", SubmitAsync)
            .WithName("SubmitJob")
            .WithSummary("Submit an asynchronous prediction job")
            .WithDescription("Queues the batch on RabbitMQ and answers 202 once the broker has confirmed it; " +
                             "the Location header is where the outcome appears. The job belongs to the token's subject. " +
                             "An Idempotency-Key header makes a retried submission return the same job (same body required, " +
                             "else 422). With callbackUrl the outcome is also POSTed there, signed (see docs/messaging.md, Webhooks); " +
                             "private, loopback and link-local addresses are refused. Scope: jobs.")
            .RequireScope(Scopes.Jobs, RateLimitingOptions.Jobs)
            .LimitsUpstreamConcurrency(UpstreamService.Worker)
            .Accepts<JobSubmission>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/", ListAsync)
            .WithName("ListJobs")
            .WithSummary("List the caller's jobs")
            .WithDescription("Newest first, optionally ?status=queued|running|succeeded|failed; ?pageSize= (1-100, default 20) " +
                             "and ?pageToken= (the previous page's nextPageToken). Scope: jobs.")
            .RequireScope(Scopes.Jobs, RateLimitingOptions.Jobs)
            .LimitsUpstreamConcurrency(UpstreamService.WorkerReads)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/{id:guid}", GetAsync)
            .WithName("GetJob")
            .WithSummary("Read a job's status and, once done, its result")
            .WithDescription("Only the subject that submitted a job can read it; for anyone else it does not exist (404). Scope: jobs.")
            .RequireScope(Scopes.Jobs, RateLimitingOptions.Jobs)
            .LimitsUpstreamConcurrency(UpstreamService.WorkerReads)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    public static async Task<Results<Accepted<JobAccepted>, ProblemHttpResult>> SubmitAsync(
        JobSubmission submission, [FromHeader(Name = JobService.IdempotencyKeyField)] string? idempotencyKey,
        ClaimsPrincipal user, JobService jobs, CancellationToken cancellationToken)
    {
        var outcome = await jobs.SubmitAsync(submission, idempotencyKey, user, cancellationToken);
        return outcome.Problem is { } problem
            ? TypedResults.Problem(problem)
            : TypedResults.Accepted($"/api/v1/jobs/{outcome.Value!.Id}", outcome.Value);
    }

    public static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(
        Guid id, ClaimsPrincipal user, JobService jobs, CancellationToken cancellationToken) =>
        (await jobs.GetAsync(id, user, cancellationToken)).ToOk();

    public static async Task<Results<Ok<JobList>, ProblemHttpResult>> ListAsync(
        string? status, int? pageSize, string? pageToken, ClaimsPrincipal user, JobService jobs,
        CancellationToken cancellationToken) =>
        (await jobs.ListAsync(user, status, pageSize, pageToken, cancellationToken)).ToOk();
}
