using Microsoft.Extensions.Options;
using Worker.Events;
using Worker.Messaging;

namespace Worker.Notifications;

/// <summary>
/// The <c>events.notifications</c> queue: the outcomes of jobs with a callback URL, the only events
/// <see cref="JobOutcomeWebhookHandler"/> acts on (the broker routes them by key; the others never reach this queue).
/// </summary>
internal sealed class NotificationsConsumer(
    IServiceProvider services, IOptions<MessagingOptions> options, ILogger<NotificationsConsumer> logger)
    : EventConsumer(services, options, logger)
{
    protected override string QueueName => Settings.NotificationsQueue;

    protected override IReadOnlyList<string> RoutingKeys => Subscribed;

    internal static readonly IReadOnlyList<string> Subscribed =
        [JobEvents.RoutingKey(DomainEvent.JobCompleted, hasCallback: true), JobEvents.RoutingKey(DomainEvent.JobFailed, hasCallback: true)];
}
