using Microsoft.AspNetCore.Http.HttpResults;
using ServiceDefaults.Problems;
using Worker.Admin;
using Worker.Problems;

namespace Worker.Apis;

/// <summary>Who asks for an operation: the gateway sends the token's subject, the dashboard <c>dashboard</c>.</summary>
public sealed record AdminAction(string? Actor);

/// <summary>
/// The Worker's internal operator API (the gateway's <c>admin</c> API and the dashboard's commands call it): the
/// dead-letter queue and pausing the job queue's consumption. Every change is written to the audit log with its actor.
/// </summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/admin").WithTags("Operations");

        api.MapGet("/dead-jobs", ListDeadJobsAsync)
            .WithName("ListDeadJobs")
            .WithSummary("The jobs in the dead-letter queue")
            .WithDescription($"Oldest first, ?limit= 1 to {DeadLetters.MaxListed} (default 100), each with its attempts and last error.");

        api.MapPost("/dead-jobs/{jobId:guid}/requeue", RequeueOneAsync)
            .WithName("RequeueDeadJob")
            .WithSummary("Put one dead job back on the queue")
            .WithDescription("The job goes from failed to queued with its attempts reset; 404 job_not_found when it is not in the dead-letter queue.");

        api.MapPost("/dead-jobs/requeue", RequeueAllAsync)
            .WithName("RequeueDeadJobs")
            .WithSummary("Put every dead job back on the queue");

        api.MapGet("/consumption", GetConsumptionAsync)
            .WithName("GetJobConsumption")
            .WithSummary("Whether the jobs queue is consumed or paused");

        api.MapPost("/consumption/pause", (AdminAction action, JobConsumption consumption, CancellationToken cancellationToken) =>
                SwitchAsync(action, paused: true, consumption, cancellationToken))
            .WithName("PauseJobConsumption")
            .WithSummary("Stop taking jobs from the queue, on every replica")
            .WithDescription("Deliveries in hand finish; submissions are still accepted and wait in the queue.");

        api.MapPost("/consumption/resume", (AdminAction action, JobConsumption consumption, CancellationToken cancellationToken) =>
                SwitchAsync(action, paused: false, consumption, cancellationToken))
            .WithName("ResumeJobConsumption")
            .WithSummary("Take jobs from the queue again, on every replica");

        return app;
    }

    internal static async Task<Results<Ok<DeadJobList>, ProblemHttpResult>> ListDeadJobsAsync(
        int? limit, DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        var outcome = await deadLetters.ListAsync(limit, cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }

    internal static async Task<Results<Ok<RequeueReport>, ProblemHttpResult>> RequeueOneAsync(
        Guid jobId, AdminAction action, DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        if (ActorOf(action) is not { } actor)
        {
            return ActorRequired();
        }

        var outcome = await deadLetters.RequeueAsync(jobId, actor, cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }

    internal static async Task<Results<Ok<RequeueReport>, ProblemHttpResult>> RequeueAllAsync(
        AdminAction action, DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        if (ActorOf(action) is not { } actor)
        {
            return ActorRequired();
        }

        var outcome = await deadLetters.RequeueAsync(null, actor, cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }

    internal static async Task<Ok<ConsumptionState>> GetConsumptionAsync(JobConsumption consumption, CancellationToken cancellationToken) =>
        TypedResults.Ok(await consumption.GetAsync(cancellationToken));

    private static async Task<Results<Ok<ConsumptionState>, ProblemHttpResult>> SwitchAsync(
        AdminAction action, bool paused, JobConsumption consumption, CancellationToken cancellationToken) =>
        ActorOf(action) is { } actor
            ? TypedResults.Ok(await consumption.SetAsync(paused, actor, cancellationToken))
            : ActorRequired();

    private static string? ActorOf(AdminAction action) =>
        string.IsNullOrWhiteSpace(action.Actor) ? null : action.Actor.Trim()[..Math.Min(action.Actor.Trim().Length, 200)];

    private static ProblemHttpResult ActorRequired() =>
        ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
            "The request is not valid.", errors: new Dictionary<string, string[]> { ["actor"] = ["Who asks: required, for the audit log."] });
}
