using Microsoft.AspNetCore.Http.HttpResults;
using ServiceDefaults.Problems;
using Worker.Audit;
using Worker.Security;

namespace Worker.Apis;

/// <summary>The Worker's internal, read-only view of the audit log (scope <c>admin</c>).</summary>
public static class AuditApi
{
    private const int MaxEvents = 1000;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/audit/jobs/{jobId:guid}", async Task<Ok<IReadOnlyList<AuditRecord>>> (
                Guid jobId, IAuditLog audit, CancellationToken cancellationToken) =>
                TypedResults.Ok(await audit.ForJobAsync(jobId, cancellationToken)))
            .WithTags("Audit")
            .WithName("JobAuditTrail")
            .RequireScope(WorkerScopes.Admin);
        app.MapGet("/v1/audit/events", async Task<Results<Ok<IReadOnlyList<AuditRecord>>, ProblemHttpResult>> (
                string? type, int? limit, IAuditLog audit, CancellationToken cancellationToken) =>
                string.IsNullOrWhiteSpace(type) || limit is < 1 or > MaxEvents
                    ? ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                        "The request is not valid.", $"?type= is required; ?limit= is 1 to {MaxEvents} (default 100).")
                    : TypedResults.Ok(await audit.OfTypeAsync(type, limit ?? 100, cancellationToken)))
            .WithTags("Audit")
            .WithName("AuditEventsOfType")
            .RequireScope(WorkerScopes.Admin)
            .WithSummary("The latest audit records of one event type")
            .WithDescription("?type=model.activated and an optional ?limit= (default 100); oldest first.");
        return app;
    }
}
