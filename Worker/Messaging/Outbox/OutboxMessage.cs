namespace Worker.Messaging.Outbox;

/// <summary>
/// A message to publish, stored in the same transaction as the state change it announces (transactional outbox).
/// <see cref="Id"/> is the AMQP message id, so consumers can recognise a message published twice.
/// <see cref="TraceParent"/> is the trace of the request that caused it, continued when the message is published.
/// </summary>
public sealed record OutboxMessage(
    Guid Id,
    string Exchange,
    string RoutingKey,
    string Type,
    ReadOnlyMemory<byte> Body,
    string? TraceParent,
    Guid? JobId,
    DateTimeOffset CreatedAt);
