using Microsoft.Extensions.Options;
using Worker.Messaging;

namespace Worker.Audit;

/// <summary>The <c>events.audit</c> queue: every event on the <c>events</c> exchange goes to <see cref="AuditTrail"/>.</summary>
internal sealed class AuditConsumer(IServiceProvider services, IOptions<MessagingOptions> options, ILogger<AuditConsumer> logger)
    : EventConsumer(services, options, logger)
{
    protected override string QueueName => Settings.AuditQueue;
}
