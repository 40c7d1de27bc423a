using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Apis;
using Worker.Audit;
using Worker.Events;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Webhooks;

namespace Worker.Notifications;

/// <summary>
/// Tells a job's submitter its outcome: on <c>job.completed</c> / <c>job.failed</c> for a job with a callback URL,
/// POSTs the job as a signed webhook (retried with back-off by the sender). A delivery that gives up, or a URL that
/// is refused when connecting, is written to the audit log as <c>webhook.failed</c>; a delivered one as
/// <c>webhook.delivered</c>. The webhook id is the event id, so a receiver can drop a repeated delivery.
/// </summary>
internal sealed partial class NotificationsConsumer(
    IServiceProvider services, IJobStore jobs, IWebhookSender webhooks, IAuditLog audit,
    IOptions<MessagingOptions> options, TimeProvider clock, ILogger<NotificationsConsumer> logger)
    : QueueConsumer(services, options, logger)
{
    public const string WebhookDelivered = "webhook.delivered";

    protected override string QueueName => Settings.NotificationsQueue;

    protected override Task DeclareTopologyAsync(IChannel channel, CancellationToken cancellationToken) =>
        MessagingTopology.DeclareEventQueueAsync(channel, Settings, QueueName, cancellationToken);

    protected override async Task<DeliveryOutcome> HandleAsync(BasicDeliverEventArgs delivery, CancellationToken cancellationToken)
    {
        if (DomainEvent.TryParse(delivery.Body) is not { } domainEvent)
        {
            return DeliveryOutcome.Reject;
        }

        if (domainEvent.Type is not (DomainEvent.JobCompleted or DomainEvent.JobFailed)
            || domainEvent.JobId is not { } jobId
            || await jobs.FindAsync(jobId, cancellationToken) is not { CallbackUrl: { } callbackUrl } job)
        {
            return DeliveryOutcome.Ack;
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            id = domainEvent.Id,
            type = domainEvent.Type,
            occurredAt = domainEvent.OccurredAt,
            job = JobView.From(job),
        }, DomainEvent.Json);
        var outcome = await webhooks.DeliverAsync(new WebhookDelivery(domainEvent.Id.ToString(), callbackUrl, body), cancellationToken);
        var (type, data) = outcome switch
        {
            WebhookOutcome.Delivered delivered => (WebhookDelivered, (object)new { jobId, attempts = delivered.Attempts, status = delivered.StatusCode }),
            WebhookOutcome.GaveUp gaveUp => (DomainEvent.WebhookFailed, new { jobId, attempts = gaveUp.Attempts, reason = gaveUp.LastError }),
            WebhookOutcome.Refused refused => (DomainEvent.WebhookFailed, new { jobId, attempts = 0, reason = refused.Reason }),
            _ => throw new InvalidOperationException("Unknown webhook outcome."),
        };
        if (type == DomainEvent.WebhookFailed)
        {
            LogGaveUp(logger, jobId, domainEvent.Id);
        }

        // Derived from the event, so a redelivered event does not write a second line.
        var recordId = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"{domainEvent.Id}/{type}")).AsSpan(0, 16));
        await audit.AppendAsync(new AuditRecord(recordId, type, clock.GetUtcNow(), "worker.notifications", jobId,
            JsonSerializer.SerializeToElement(data, DomainEvent.Json), clock.GetUtcNow()), cancellationToken);
        return DeliveryOutcome.Ack;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook for job {JobId} (event {EventId}) was not delivered; see the audit log.")]
    private static partial void LogGaveUp(ILogger logger, Guid jobId, Guid eventId);
}
