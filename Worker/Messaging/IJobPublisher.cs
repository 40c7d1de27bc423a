namespace Worker.Messaging;

/// <summary>Puts a job on the work queue; returns only once the broker has confirmed the message is stored.</summary>
public interface IJobPublisher
{
    /// <exception cref="BrokerUnavailableException">The broker did not take the message.</exception>
    Task PublishAsync(Guid jobId, CancellationToken cancellationToken);
}

public sealed class BrokerUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
