using Microsoft.Extensions.Options;
using Worker.Messaging;

namespace Worker.Notifications;

/// <summary>The <c>events.notifications</c> queue: job outcomes go to <see cref="JobOutcomeWebhookHandler"/>.</summary>
internal sealed class NotificationsConsumer(
    IServiceProvider services, IOptions<MessagingOptions> options, ILogger<NotificationsConsumer> logger)
    : EventConsumer(services, options, logger)
{
    protected override string QueueName => Settings.NotificationsQueue;
}
