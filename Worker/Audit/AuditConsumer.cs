using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Events;
using Worker.Messaging;

namespace Worker.Audit;

/// <summary>Writes every event on the <c>events</c> exchange to the append-only audit log, once per event id.</summary>
internal sealed partial class AuditConsumer(
    IServiceProvider services, IAuditLog audit, IOptions<MessagingOptions> options, TimeProvider clock,
    ILogger<AuditConsumer> logger) : QueueConsumer(services, options, logger)
{
    protected override string QueueName => Settings.AuditQueue;

    protected override Task DeclareTopologyAsync(IChannel channel, CancellationToken cancellationToken) =>
        MessagingTopology.DeclareEventQueueAsync(channel, Settings, QueueName, cancellationToken);

    protected override async Task<DeliveryOutcome> HandleAsync(BasicDeliverEventArgs delivery, CancellationToken cancellationToken)
    {
        if (DomainEvent.TryParse(delivery.Body) is not { } domainEvent)
        {
            LogUnreadable(logger, delivery.BasicProperties.MessageId);
            return DeliveryOutcome.Reject;
        }

        await audit.AppendAsync(new AuditRecord(domainEvent.Id, domainEvent.Type, domainEvent.OccurredAt, domainEvent.Source,
            domainEvent.JobId, domainEvent.Data, clock.GetUtcNow()), cancellationToken);
        return DeliveryOutcome.Ack;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-lettered an unreadable event (message id {MessageId}).")]
    private static partial void LogUnreadable(ILogger logger, string? messageId);
}
