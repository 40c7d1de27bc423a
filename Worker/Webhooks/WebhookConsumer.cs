using System.Diagnostics;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Audit;
using Worker.Events;
using Worker.Messaging;
using Worker.Messaging.Outbox;

namespace Worker.Webhooks;

/// <summary>
/// Consumes the <c>webhooks</c> queue: one attempt per delivery, never a sleep. A retryable failure republishes the
/// delivery to the delay queue of its next attempt (<c>x-attempt</c> + 1) and acks this one once the broker confirmed
/// it; after <c>MaxAttempts</c>, or a final failure, it is written to the audit log as <c>webhook.failed</c>, a 2xx as
/// <c>webhook.delivered</c> (each once per event, however often it is redelivered). A delivery whose host already has
/// <c>MaxConcurrencyPerHost</c> attempts in flight waits in the first delay queue without using an attempt, so a slow
/// receiver holds a few slots and everyone else's webhooks keep moving.
/// </summary>
internal sealed partial class WebhookConsumer(
    IServiceProvider services, IOptions<MessagingOptions> messaging, IOptions<WebhookOptions> webhookOptions,
    CallbackHostLimiter hosts, TimeProvider clock, WebhookMetrics metrics, ILogger<WebhookConsumer> logger)
    : QueueConsumer(services, messaging, logger)
{
    private const string Source = "worker.notifications";

    private WebhookOptions Webhooks => webhookOptions.Value;

    protected override string QueueName => Webhooks.Queue;

    protected override Task DeclareTopologyAsync(IChannel channel, CancellationToken cancellationToken) =>
        MessagingTopology.DeclareWebhookQueuesAsync(channel, Webhooks.Queue, Webhooks.DeadLetterQueue, Webhooks.RetryDelays,
            cancellationToken);

    protected override Task<DeliveryOutcome> HandleAsync(BasicDeliverEventArgs delivery, CancellationToken cancellationToken) =>
        WebhookMessage.TryParse(delivery.Body) is { } message
            ? HandleAsync(message, MessagingTopology.AttemptOf(delivery.BasicProperties), cancellationToken)
            : Unreadable(delivery.BasicProperties.MessageId);

    private Task<DeliveryOutcome> Unreadable(string? messageId)
    {
        LogUnreadable(logger, messageId);
        return Task.FromResult(DeliveryOutcome.Reject);
    }

    /// <summary>One delivery of <paramref name="message"/>, its <paramref name="attempt"/>th; what to tell the broker.</summary>
    internal async Task<DeliveryOutcome> HandleAsync(WebhookMessage message, int attempt, CancellationToken cancellationToken)
    {
        var sender = Services.GetRequiredService<IWebhookSender>();
        var auditTrail = Services.GetRequiredService<AuditTrail>();
        var host = Uri.TryCreate(message.Url, UriKind.Absolute, out var uri) ? uri.Authority : message.Url;
        WebhookAttempt result;
        using (var slot = hosts.TryEnter(host))
        {
            if (slot is null)
            {
                LogHostBusy(logger, message.EventId, host);
                metrics.Record("deferred");
                return await RepublishAsync(message, attempt, Webhooks.RetryDelayBefore(2), "the host is busy", cancellationToken);
            }

            result = await sender.AttemptAsync(message.ToDelivery(), cancellationToken);
        }

        var cause = new DomainEvent(message.EventId, message.EventType, message.OccurredAt, "worker", default);
        switch (result)
        {
            case WebhookAttempt.Succeeded succeeded:
                LogDelivered(logger, message.EventId, host, attempt, succeeded.StatusCode);
                metrics.Record("delivered");
                await auditTrail.RecordAsync(cause, Source, message.JobId,
                    new WebhookDeliveredData(message.JobId, attempt, succeeded.StatusCode), cancellationToken);
                return DeliveryOutcome.Ack;

            case WebhookAttempt.Retryable retryable when attempt < Webhooks.MaxAttempts:
                metrics.Record("retry");
                return await RepublishAsync(message, attempt + 1,
                    Webhooks.RetryDelayBefore(attempt + 1, retryable.RetryAfter), retryable.Error, cancellationToken);

            case WebhookAttempt.Refused refused:
                LogNotDelivered(logger, message.EventId, message.JobId, attempt, refused.Reason);
                metrics.Record("refused");
                await auditTrail.RecordAsync(cause, Source, message.JobId,
                    new WebhookFailedData(message.JobId, 0, refused.Reason), cancellationToken);
                return DeliveryOutcome.Ack;

            case WebhookAttempt.Retryable or WebhookAttempt.Failed:
                var error = result is WebhookAttempt.Failed failed ? failed.Error : ((WebhookAttempt.Retryable)result).Error;
                LogNotDelivered(logger, message.EventId, message.JobId, attempt, error);
                metrics.Record("failed");
                await auditTrail.RecordAsync(cause, Source, message.JobId,
                    new WebhookFailedData(message.JobId, attempt, error), cancellationToken);
                return DeliveryOutcome.Ack;

            default:
                throw new InvalidOperationException("Unknown attempt result.");
        }
    }

    /// <summary>Into the delay queue of <paramref name="delay"/> as attempt <paramref name="nextAttempt"/>; ack only once it is there.</summary>
    private async Task<DeliveryOutcome> RepublishAsync(WebhookMessage message, int nextAttempt, TimeSpan delay, string reason,
        CancellationToken cancellationToken)
    {
        var publisher = Services.GetRequiredService<IMessagePublisher>();
        try
        {
            await publisher.PublishAsync(
                new OutboxMessage(message.EventId, string.Empty, MessagingTopology.DelayQueueName(Webhooks.Queue, delay),
                    WebhookMessage.MessageType, message.ToBytes(), Activity.Current?.Id, message.JobId, clock.GetUtcNow()),
                new Dictionary<string, object?>
                {
                    [MessagingTopology.AttemptHeader] = nextAttempt,
                    [MessagingTopology.LastErrorHeader] = reason.Length > 500 ? reason[..500] : reason,
                },
                cancellationToken);
        }
        catch (BrokerUnavailableException)
        {
            return DeliveryOutcome.Requeue;
        }

        LogRetrying(logger, message.EventId, nextAttempt, delay, reason);
        return DeliveryOutcome.Ack;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-lettered an unreadable webhook message (message id {MessageId}).")]
    private static partial void LogUnreadable(ILogger logger, string? messageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {DeliveryId} delivered to {Host} on attempt {Attempt} ({StatusCode}).")]
    private static partial void LogDelivered(ILogger logger, Guid deliveryId, string host, int attempt, int statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId}: attempt {Attempt} in {Delay}: {Reason}")]
    private static partial void LogRetrying(ILogger logger, Guid deliveryId, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Webhook {DeliveryId} waits: {Host} has all the attempts in flight it may have.")]
    private static partial void LogHostBusy(ILogger logger, Guid deliveryId, string host);

    [LoggerMessage(EventName = "WebhookNotDelivered", Level = LogLevel.Warning, Message = "Webhook {DeliveryId} for job {JobId} was not delivered (attempt {Attempt}): {Error}")]
    private static partial void LogNotDelivered(ILogger logger, Guid deliveryId, Guid jobId, int attempt, string error);
}
