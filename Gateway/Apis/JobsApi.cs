using Gateway.Jobs;
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
                             "the Location header is where the outcome appears.")
            .Accepts<JobSubmission>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/{id:guid}", GetAsync)
            .WithName("GetJob")
            .WithSummary("Read a job's status and, once done, its result")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    public static async Task<Results<Accepted<JobAccepted>, ProblemHttpResult>> SubmitAsync(
        JobSubmission submission, IJobsClient jobs, IOptions<JobsOptions> options, CancellationToken cancellationToken)
    {
        if (ModelInputValidation.Validate(submission.Model, submission.Inputs, options.Value.MaxBatchSize) is { } invalid)
        {
            return invalid;
        }

        var result = await jobs.SubmitAsync(submission, cancellationToken);
        return result.Value is { } job
            ? TypedResults.Accepted($"/api/v1/jobs/{job.Id}", new JobAccepted(job.Id, job.Status))
            : result.ToProblemResult();
    }

    public static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(
        Guid id, IJobsClient jobs, CancellationToken cancellationToken)
    {
        var result = await jobs.GetAsync(id, cancellationToken);
        return result.Value is { } job ? TypedResults.Ok(job) : result.ToProblemResult();
    }
}
