using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Worker.Events;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Webhooks;

namespace Worker.Notifications;

/// <summary>
/// Tells a job's submitter its outcome: on <c>job.completed</c> / <c>job.failed</c> for a job with a callback URL,
/// queues the job as a webhook delivery on the <c>webhooks</c> queue (confirmed by the broker before the event is
/// acked); <see cref="WebhookConsumer"/> sends it signed with the owner's key, retries it through delay queues and
/// writes <c>webhook.delivered</c> / <c>webhook.failed</c> to the audit log. The webhook id is the event id, so a
/// receiver can drop a repeated delivery. The webhook continues its job's trace (the event's), also when the event
/// came in a batch whose delivery span continues another job's.
/// </summary>
internal sealed class JobOutcomeWebhookHandler(
    IJobStore jobs, IMessagePublisher publisher, IOptions<WebhookOptions> options, TimeProvider clock)
    : IHandleEvent<JobCompletedData>, IHandleEvent<JobFailedData>
{
    public Task HandleAsync(DomainEvent envelope, JobCompletedData data, CancellationToken cancellationToken) =>
        NotifyAsync(envelope, data.JobId, cancellationToken);

    public Task HandleAsync(DomainEvent envelope, JobFailedData data, CancellationToken cancellationToken) =>
        NotifyAsync(envelope, data.JobId, cancellationToken);

    private async Task NotifyAsync(DomainEvent envelope, Guid jobId, CancellationToken cancellationToken)
    {
        // Most jobs have no callback: one column says so, without reading (and parsing) the whole job.
        if (await jobs.FindCallbackUrlAsync(jobId, cancellationToken) is null
            || await jobs.FindAsync(jobId, cancellationToken) is not { CallbackUrl: { } callbackUrl } job)
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
        var message = new WebhookMessage(envelope.Id, envelope.Type, envelope.OccurredAt, jobId, job.Owner, callbackUrl, body);
        // A broker that does not confirm throws, and the event goes back to its queue to be handled again.
        await publisher.PublishAsync(
            new OutboxMessage(envelope.Id, string.Empty, options.Value.Queue, WebhookMessage.MessageType, message.ToBytes(),
                envelope.TraceParent ?? Activity.Current?.Id, jobId, clock.GetUtcNow()),
            new Dictionary<string, object?> { [MessagingTopology.AttemptHeader] = 1 },
            cancellationToken);
    }
}
