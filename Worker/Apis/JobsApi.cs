using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using Worker.Jobs;
using Worker.Messaging;

namespace Worker.Apis;

/// <summary>A job as the gateway forwards it: the client's body plus the subject that submitted it.</summary>
public sealed record JobSubmission(string? Owner, string? Model, JsonElement Inputs);

/// <summary>A job as the Worker's API shows it (inputs are not echoed back).</summary>
public sealed record JobView(
    Guid Id, string Model, JobStatus Status, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    JsonElement? Result, ProblemDetails? Error)
{
    public static JobView From(Job job) => new(job.Id, job.Model, job.Status, job.Attempts, job.CreatedAt,
        job.UpdatedAt, job.Result, job.Error);
}

/// <summary>The Worker's internal job API; the gateway is its only caller.</summary>
public static class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/jobs").WithTags("Jobs");
        api.MapPost("/", SubmitAsync).WithName("SubmitJob");
        api.MapGet("/{id:guid}", GetAsync).WithName("GetJob");
        return app;
    }

    /// <summary>Stores the job, then queues it; answers only once the broker confirmed, and forgets the job if it did not.</summary>
    public static async Task<Results<Created<JobView>, ProblemHttpResult>> SubmitAsync(
        JobSubmission submission, IJobStore store, IJobPublisher publisher, IOptions<JobsOptions> options,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var inputCount = submission.Inputs.ValueKind == JsonValueKind.Array ? submission.Inputs.GetArrayLength() : 0;
        if (string.IsNullOrWhiteSpace(submission.Owner) || string.IsNullOrWhiteSpace(submission.Model)
            || inputCount == 0 || inputCount > options.Value.MaxBatchSize)
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The job is not valid.",
                $"A job needs an owner, a model and between 1 and {options.Value.MaxBatchSize} inputs.");
        }

        var job = Job.Queued(Guid.CreateVersion7(), submission.Owner, submission.Model, submission.Inputs.Clone(),
            clock.GetUtcNow());
        await store.AddAsync(job, cancellationToken);
        try
        {
            await publisher.PublishAsync(job.Id, cancellationToken);
        }
        catch (BrokerUnavailableException exception)
        {
            await store.RemoveAsync(job.Id, CancellationToken.None);
            return ProblemDetailsContract.Problem(StatusCodes.Status503ServiceUnavailable,
                ProblemCodes.BrokerUnavailable, "The job queue is unavailable. Try again shortly.", exception.Message);
        }

        return TypedResults.Created($"/api/jobs/{job.Id}", JobView.From(job));
    }

    /// <summary>A job another subject submitted is reported as absent, so ids cannot be probed.</summary>
    public static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(
        Guid id, string? owner, IJobStore store, CancellationToken cancellationToken) =>
        await store.FindAsync(id, cancellationToken) is { } job && job.Owner == owner
            ? TypedResults.Ok(JobView.From(job))
            : ProblemDetailsContract.Problem(StatusCodes.Status404NotFound, ProblemCodes.JobNotFound,
                "No such job.", $"There is no job {id}.");
}
