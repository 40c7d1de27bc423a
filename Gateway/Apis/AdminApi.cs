using System.Security.Claims;
using Gateway.Application;
using Gateway.RateLimiting;
using Gateway.Security;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Gateway.Apis;

/// <summary>
/// Operating the job pipeline (scope admin): the dead-letter queue and pausing consumption, audited by the Worker, and
/// reading that audit log.
/// </summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/admin").WithTags("Operations");

        api.MapGet("/dead-jobs", ListDeadJobsAsync)
            .WithName("ListDeadJobs")
            .WithSummary("List the jobs in the dead-letter queue")
            .WithDescription("Jobs whose every attempt failed, oldest first, with their attempts and last error; ?limit= 1 to 500 " +
                             "(default 100). Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPost("/dead-jobs/{jobId:guid}/requeue", RequeueOneAsync)
            .WithName("RequeueDeadJob")
            .WithSummary("Put one dead job back on the queue")
            .WithDescription("The job reads queued again with its attempts reset, and is processed as if new; written to the " +
                             "audit log under the caller. 404 job_not_found when it is not in the dead-letter queue. Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPost("/dead-jobs/requeue", RequeueAllAsync)
            .WithName("RequeueDeadJobs")
            .WithSummary("Put every dead job back on the queue")
            .WithDescription("As requeueing one, for each dead job; answers with the jobs requeued and the messages skipped. Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/consumption", GetConsumptionAsync)
            .WithName("GetJobConsumption")
            .WithSummary("Whether the Workers take jobs from the queue")
            .WithDescription("paused, and who changed it last and when. Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPost("/consumption/pause", (ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
                SwitchAsync(paused: true, user, operations, cancellationToken))
            .WithName("PauseJobConsumption")
            .WithSummary("Pause job processing on every Worker replica")
            .WithDescription("Jobs in hand finish; new submissions are accepted and wait in the queue until resumed. Audited. Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPost("/consumption/resume", (ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
                SwitchAsync(paused: false, user, operations, cancellationToken))
            .WithName("ResumeJobConsumption")
            .WithSummary("Resume job processing on every Worker replica")
            .WithDescription("Audited. Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/audit/jobs/{jobId:guid}", GetJobAuditTrailAsync)
            .WithName("GetJobAuditTrail")
            .WithSummary("Every audit record of one job")
            .WithDescription("What happened to the job, whoever owns it, oldest first: job.failed and/or job.completed (a " +
                             "requeued job can have both), webhook.delivered or webhook.failed, admin.job.requeued; an empty " +
                             "list for a job the log has not seen. Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/audit/events", ListAuditEventsAsync)
            .WithName("ListAuditEvents")
            .WithSummary("The latest audit records of one event type")
            .WithDescription("?type= (required, e.g. model.activated, admin.consumption.paused) and ?limit= 1 to 1000 " +
                             "(default 100); oldest first. Who made a change is in data.actor for admin.* records (a user, " +
                             "or dashboard) and in data.activatedBy for model.activated. Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<AuditRecord>>, ProblemHttpResult>> GetJobAuditTrailAsync(
        Guid jobId, ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
        (await operations.GetJobAuditTrailAsync(jobId, user, cancellationToken)).ToOk();

    public static async Task<Results<Ok<IReadOnlyList<AuditRecord>>, ProblemHttpResult>> ListAuditEventsAsync(
        string? type, int? limit, ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
        (await operations.ListAuditEventsAsync(type, limit, user, cancellationToken)).ToOk();

    public static async Task<Results<Ok<DeadJobList>, ProblemHttpResult>> ListDeadJobsAsync(
        int? limit, ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
        (await operations.ListDeadJobsAsync(limit, user, cancellationToken)).ToOk();

    public static async Task<Results<Ok<RequeueReport>, ProblemHttpResult>> RequeueOneAsync(
        Guid jobId, ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
        (await operations.RequeueAsync(jobId, user, cancellationToken)).ToOk();

    public static async Task<Results<Ok<RequeueReport>, ProblemHttpResult>> RequeueAllAsync(
        ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
        (await operations.RequeueAsync(null, user, cancellationToken)).ToOk();

    public static async Task<Results<Ok<ConsumptionState>, ProblemHttpResult>> GetConsumptionAsync(
        ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
        (await operations.GetConsumptionAsync(user, cancellationToken)).ToOk();

    private static async Task<Results<Ok<ConsumptionState>, ProblemHttpResult>> SwitchAsync(
        bool paused, ClaimsPrincipal user, OperationsService operations, CancellationToken cancellationToken) =>
        (await operations.SetConsumptionAsync(paused, user, cancellationToken)).ToOk();
}
