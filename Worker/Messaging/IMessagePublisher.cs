using Worker.Messaging.Outbox;

namespace Worker.Messaging;

/// <summary>Publishes persistent messages; returns only once the broker has confirmed it stored the message.</summary>
public interface IMessagePublisher
{
    /// <exception cref="BrokerUnavailableException">The broker did not take the message in time.</exception>
    Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken);
}

public sealed class BrokerUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
