namespace Worker.Messaging.Outbox;

/// <summary>Messages written with a state change and not yet confirmed by the broker.</summary>
public interface IOutbox
{
    /// <summary>Unsent messages created before <paramref name="createdBefore"/>, oldest first.</summary>
    Task<IReadOnlyList<OutboxMessage>> PendingAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken);

    /// <summary>Records that the broker confirmed the message.</summary>
    Task MarkSentAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Records that the broker confirmed these messages, in one transaction.</summary>
    Task MarkSentAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);

    /// <summary>Wakes the relay: something was just written.</summary>
    void Notify();

    /// <summary>Completes when <see cref="Notify"/> is called (true) or <paramref name="timeout"/> passes (false).</summary>
    Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken);
}
