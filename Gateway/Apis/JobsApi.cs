using System.Security.Claims;
using Gateway.Inference;
using Gateway.Jobs;
using Gateway.RateLimiting;
using Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

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
                             "the Location header is where the outcome appears. The job belongs to the token's subject. Scope: jobs.")
            .RequireScope(Scopes.Jobs, RateLimitingOptions.Jobs)
            .Accepts<JobSubmission>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
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
        JobSubmission submission, ClaimsPrincipal user, IJobsClient jobs, IOptions<JobsOptions> options,
        IOptions<InferenceOptions> inference, CancellationToken cancellationToken)
    {
        if (ModelInputValidation.Validate(submission.Model, submission.Inputs, options.Value.MaxBatchSize,
                inference.Value.MaxTextLength) is { } invalid)
        {
            return invalid;
        }

        var result = await jobs.SubmitAsync(submission, OwnerOf(user), cancellationToken);
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

    // The endpoints require an authenticated user, and every accepted token has a subject (see AddGatewayAuthentication).
    private static string OwnerOf(ClaimsPrincipal user) =>
        Scopes.SubjectOf(user) ?? throw new InvalidOperationException("An authenticated caller has no subject.");
}
