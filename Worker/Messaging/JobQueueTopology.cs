using RabbitMQ.Client;

namespace Worker.Messaging;

/// <summary>Declares what the Worker owns on the broker. Declarations are idempotent, so every start repeats them.</summary>
internal static class JobQueueTopology
{
    public static Task DeclareAsync(IChannel channel, string queueName, CancellationToken cancellationToken) =>
        channel.QueueDeclareAsync(queueName, durable: true, exclusive: false, autoDelete: false,
            arguments: null, cancellationToken: cancellationToken);
}
