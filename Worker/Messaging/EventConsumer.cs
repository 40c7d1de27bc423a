using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Worker.Messaging;

/// <summary>
/// A consumer of its own durable queue on the <c>events</c> fanout exchange (every event), or on
/// <c>events.by-type</c> for only the <see cref="RoutingKeys"/> it names. Each delivery goes to the typed
/// handlers registered for it (<see cref="EventConsumerRegistration.AddEventConsumer{TConsumer}"/>) and is acked
/// after they returned, that is after their effects are committed; a handler that throws puts it back.
/// </summary>
internal abstract class EventConsumer(IServiceProvider services, IOptions<MessagingOptions> options, ILogger logger)
    : QueueConsumer(services, options, logger)
{
    private EventSubscriptions? _subscriptions;

    private EventSubscriptions Subscriptions => _subscriptions ??= Services.GetRequiredKeyedService<EventSubscriptions>(GetType());

    /// <summary>The routing keys of the events this consumer wants; null (the default) for every event.</summary>
    protected virtual IReadOnlyList<string>? RoutingKeys => null;

    protected override Task DeclareTopologyAsync(IChannel channel, CancellationToken cancellationToken) =>
        MessagingTopology.DeclareEventQueueAsync(channel, Settings, QueueName, RoutingKeys, cancellationToken);

    protected override Task<DeliveryOutcome> HandleAsync(BasicDeliverEventArgs delivery, CancellationToken cancellationToken) =>
        Subscriptions.DispatchAsync(Services, delivery.Body, delivery.BasicProperties.MessageId, Logger, cancellationToken);
}
