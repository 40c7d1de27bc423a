using Worker.Audit;
using Worker.Events;

namespace Worker.Tests.Audit;

/// <summary>What the audit consumer and the notifications write to the real audit log, and that a redelivery writes nothing.</summary>
public sealed class AuditTrailTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static DomainEvent Completed(Guid jobId) => new(Guid.CreateVersion7(), DomainEvent.JobCompleted,
        new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), "worker", JsonElement.Parse($$"""{"jobId":"{{jobId}}","model":"sentiment"}"""));

    [Fact]
    public async Task Every_event_is_recorded_as_it_came_once_per_event_id()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var trail = new AuditTrail(db.Audit, TimeProvider.System);
        var jobId = Guid.CreateVersion7();
        var completed = Completed(jobId);

        await trail.HandleAsync(completed, Token);
        await trail.HandleAsync(completed, Token);

        var record = Assert.Single(await db.Audit.ForJobAsync(jobId, Token));
        Assert.Equal((completed.Id, "job.completed", "worker"), (record.EventId, record.Type, record.Source));
        Assert.Equal(completed.OccurredAt, record.OccurredAt);
        Assert.Equal("sentiment", record.Data.GetProperty("model").GetString());
    }

    [Fact]
    public async Task A_webhook_line_is_written_once_per_event_and_line_type()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var trail = new AuditTrail(db.Audit, TimeProvider.System);
        var jobId = Guid.CreateVersion7();
        var completed = Completed(jobId);

        await trail.RecordAsync(completed, "worker.notifications", jobId, new WebhookFailedData(jobId, 0, "refused"), Token);
        await trail.RecordAsync(completed, "worker.notifications", jobId, new WebhookFailedData(jobId, 0, "refused"), Token);
        await trail.RecordAsync(completed, "worker.notifications", jobId, new WebhookDeliveredData(jobId, 2, 204), Token);

        var records = await db.Audit.ForJobAsync(jobId, Token);
        Assert.Equal(["webhook.delivered", "webhook.failed"], records.Select(r => r.Type).Order());
        Assert.All(records, r => Assert.Equal("worker.notifications", r.Source));
        var delivered = records.Single(r => r.Type == "webhook.delivered").Data;
        Assert.Equal($$"""{"jobId":"{{jobId}}","attempts":2,"status":204}""", delivered.GetRawText());
    }
}
