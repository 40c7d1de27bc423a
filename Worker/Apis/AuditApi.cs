using Microsoft.AspNetCore.Http.HttpResults;
using Worker.Audit;

namespace Worker.Apis;

/// <summary>The Worker's internal, read-only view of the audit log.</summary>
public static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit/jobs/{jobId:guid}", async Task<Ok<IReadOnlyList<AuditRecord>>> (
                Guid jobId, IAuditLog audit, CancellationToken cancellationToken) =>
                TypedResults.Ok(await audit.ForJobAsync(jobId, cancellationToken)))
            .WithTags("Audit")
            .WithName("JobAuditTrail");
        return app;
    }
}
