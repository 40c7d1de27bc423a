using System.Text.Json;
using Worker.Audit;
using Worker.Security;

namespace Worker.Admin;

/// <summary>
/// An operator's action, written to the audit log beside the events (who, what, when): <c>actor</c> is the
/// authenticated caller's <see cref="Caller.Actor"/>, <c>service</c> the service whose key signed its token.
/// </summary>
internal sealed class AdminAudit(IAuditLog audit, TimeProvider clock)
{
    public const string Source = "worker.admin";
    public const string ConsumptionPaused = "admin.consumption.paused";
    public const string ConsumptionResumed = "admin.consumption.resumed";
    public const string JobRequeued = "admin.job.requeued";

    public Task RecordAsync(string type, Caller actor, Guid? jobId, object details, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var data = JsonSerializer.SerializeToElement(new Dictionary<string, object?>
        {
            ["actor"] = actor.Actor,
            ["service"] = actor.Service,
            ["details"] = details,
        }, JsonSerializerOptions.Web);
        return audit.AppendAsync(new AuditRecord(Guid.CreateVersion7(), type, now, Source, jobId, data, now), cancellationToken);
    }
}
