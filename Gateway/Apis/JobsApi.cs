using System.Security.Claims;
using Gateway.Inference;
using Gateway.Jobs;
using Gateway.RateLimiting;
using Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

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
                             "else 422). With callbackUrl the outcome is also POSTed there, signed (see README, Webhooks); " +
                             "private, loopback and link-local addresses are refused. Scope: jobs.")
            .RequireScope(Scopes.Jobs, RateLimitingOptions.Jobs)
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
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/{id:guid}", GetAsync)
            .WithName("GetJob")
            .WithSummary("Read a job's status and, once done, its result")
            .WithDescription("Only the subject that submitted a job can read it; for anyone else it does not exist (404). Scope: jobs.")
            .RequireScope(Scopes.Jobs, RateLimitingOptions.Jobs)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    public static async Task<Results<Accepted<JobAccepted>, ProblemHttpResult>> SubmitAsync(
        JobSubmission submission, [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey, ClaimsPrincipal user,
        IJobsClient jobs, IOptions<JobsOptions> options, IOptions<InferenceOptions> inference, CancellationToken cancellationToken)
    {
        if (ModelInputValidation.Validate(submission.Model, submission.Inputs, options.Value.MaxBatchSize,
                inference.Value.MaxTextLength) is { } invalid)
        {
            return invalid;
        }

        if (idempotencyKey is not null && !IsValidIdempotencyKey(idempotencyKey))
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: new Dictionary<string, string[]>
                {
                    [IdempotencyKeyHeader] = ["1 to 255 visible ASCII characters."],
                });
        }

        var result = await jobs.SubmitAsync(submission, OwnerOf(user), idempotencyKey, cancellationToken);
        return result.Value is { } job
            ? TypedResults.Accepted($"/api/v1/jobs/{job.Id}", new JobAccepted(job.Id, job.Status))
            : result.ToProblemResult();
    }

    public static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(
        Guid id, ClaimsPrincipal user, IJobsClient jobs, CancellationToken cancellationToken)
    {
        var result = await jobs.GetAsync(id, OwnerOf(user), cancellationToken);
        return result.Value is { } job ? TypedResults.Ok(job) : result.ToProblemResult();
    }

    public static async Task<Results<Ok<JobList>, ProblemHttpResult>> ListAsync(
        string? status, int? pageSize, string? pageToken, ClaimsPrincipal user, IJobsClient jobs,
        CancellationToken cancellationToken)
    {
        var result = await jobs.ListAsync(OwnerOf(user), status, pageSize, pageToken, cancellationToken);
        return result.Value is { } page ? TypedResults.Ok(page) : result.ToProblemResult();
    }

    private const string IdempotencyKeyHeader = "Idempotency-Key";

    private static bool IsValidIdempotencyKey(string key) => key.Length is > 0 and <= 255 && key.All(c => c is > ' ' and <= '~');

    // The endpoints require an authenticated user, and every accepted token has a subject (see AddGatewayAuthentication).
    private static string OwnerOf(ClaimsPrincipal user) =>
        Scopes.SubjectOf(user) ?? throw new InvalidOperationException("An authenticated caller has no subject.");
}
