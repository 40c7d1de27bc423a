using System.Text.Json;
using Worker.Audit;
using Worker.Events;
using Worker.Jobs;
using Worker.Webhooks;

namespace Worker.Notifications;

/// <summary>
/// Tells a job's submitter its outcome: on <c>job.completed</c> / <c>job.failed</c> for a job with a callback URL,
/// POSTs the job as a signed webhook (retried with back-off by the sender). A delivered webhook is written to the
/// audit log as <c>webhook.delivered</c>; one that gives up, or a URL refused when connecting, as
/// <c>webhook.failed</c>. The webhook id is the event id, so a receiver can drop a repeated delivery.
/// </summary>
internal sealed partial class JobOutcomeWebhookHandler(
    IJobStore jobs, IWebhookSender webhooks, AuditTrail auditTrail, ILogger<JobOutcomeWebhookHandler> logger)
    : IHandleEvent<JobCompletedData>, IHandleEvent<JobFailedData>
{
    private const string Source = "worker.notifications";

    public Task HandleAsync(DomainEvent envelope, JobCompletedData data, CancellationToken cancellationToken) =>
        NotifyAsync(envelope, data.JobId, cancellationToken);

    public Task HandleAsync(DomainEvent envelope, JobFailedData data, CancellationToken cancellationToken) =>
        NotifyAsync(envelope, data.JobId, cancellationToken);

    private async Task NotifyAsync(DomainEvent envelope, Guid jobId, CancellationToken cancellationToken)
    {
        if (await jobs.FindAsync(jobId, cancellationToken) is not { CallbackUrl: { } callbackUrl } job)
        {
            return;
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            id = envelope.Id,
            type = envelope.Type,
            occurredAt = envelope.OccurredAt,
            job = JobView.From(job),
        }, DomainEvent.Json);
        var outcome = await webhooks.DeliverAsync(new WebhookDelivery(envelope.Id.ToString(), callbackUrl, body), cancellationToken);
        if (outcome is not WebhookOutcome.Delivered)
        {
            LogNotDelivered(logger, jobId, envelope.Id);
        }

        await (outcome switch
        {
            WebhookOutcome.Delivered delivered => auditTrail.RecordAsync(envelope, Source, jobId,
                new WebhookDeliveredData(jobId, delivered.Attempts, delivered.StatusCode), cancellationToken),
            WebhookOutcome.GaveUp gaveUp => auditTrail.RecordAsync(envelope, Source, jobId,
                new WebhookFailedData(jobId, gaveUp.Attempts, gaveUp.LastError), cancellationToken),
            WebhookOutcome.Refused refused => auditTrail.RecordAsync(envelope, Source, jobId,
                new WebhookFailedData(jobId, 0, refused.Reason), cancellationToken),
            _ => throw new InvalidOperationException("Unknown webhook outcome."),
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook for job {JobId} (event {EventId}) was not delivered; see the audit log.")]
    private static partial void LogNotDelivered(ILogger logger, Guid jobId, Guid eventId);
}
