using Worker.Messaging.Outbox;

namespace Worker.Messaging;

/// <summary>Publishes persistent messages; returns only once the broker has confirmed it stored the message.</summary>
public interface IMessagePublisher
{
    /// <exception cref="BrokerUnavailableException">The broker did not take the message in time, or refused it.</exception>
    Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken);
}

/// <summary>
/// The broker does not have the message. <see cref="Refused"/>: it answered with a nack, which for the work queues
/// means the queue is at its length limit (<c>x-overflow: reject-publish</c>); otherwise it did not answer in time
/// or the connection is gone.
/// </summary>
public sealed class BrokerUnavailableException(string message, Exception? inner = null, bool refused = false)
    : Exception(message, inner)
{
    public bool Refused { get; } = refused;
}
