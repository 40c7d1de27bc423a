using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Worker.Admin;
using Worker.Problems;
using Worker.Security;

namespace Worker.Apis;

/// <summary>
/// The Worker's internal operator API (the gateway's <c>admin</c> API and the dashboard's commands call it, scope
/// <c>admin</c>): the dead-letter queue and pausing the job queue's consumption. Every change is written to the audit
/// log under the authenticated caller (<see cref="Caller.Actor"/>: the user the gateway acted for, or <c>dashboard</c>);
/// a body is not read, so an <c>actor</c> in it (as callers sent before service identity) changes nothing.
/// </summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/admin").WithTags("Operations").RequireScope(WorkerScopes.Admin);

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

        api.MapPost("/consumption/pause", (ClaimsPrincipal user, JobConsumption consumption, CancellationToken cancellationToken) =>
                SwitchAsync(user, paused: true, consumption, cancellationToken))
            .WithName("PauseJobConsumption")
            .WithSummary("Stop taking jobs from the queue, on every replica")
            .WithDescription("Deliveries in hand finish; submissions are still accepted and wait in the queue.");

        api.MapPost("/consumption/resume", (ClaimsPrincipal user, JobConsumption consumption, CancellationToken cancellationToken) =>
                SwitchAsync(user, paused: false, consumption, cancellationToken))
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
        Guid jobId, ClaimsPrincipal user, DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        var outcome = await deadLetters.RequeueAsync(jobId, Caller.Of(user), cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }

    internal static async Task<Results<Ok<RequeueReport>, ProblemHttpResult>> RequeueAllAsync(
        ClaimsPrincipal user, DeadLetters deadLetters, CancellationToken cancellationToken)
    {
        var outcome = await deadLetters.RequeueAsync(null, Caller.Of(user), cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }

    internal static async Task<Ok<ConsumptionState>> GetConsumptionAsync(JobConsumption consumption, CancellationToken cancellationToken) =>
        TypedResults.Ok(await consumption.GetAsync(cancellationToken));

    private static async Task<Ok<ConsumptionState>> SwitchAsync(
        ClaimsPrincipal user, bool paused, JobConsumption consumption, CancellationToken cancellationToken) =>
        TypedResults.Ok(await consumption.SetAsync(paused, Caller.Of(user), cancellationToken));
}
