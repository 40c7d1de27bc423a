namespace Worker.Messaging.Outbox;

/// <summary>Messages written with a state change and not yet confirmed by the broker.</summary>
public interface IOutbox
{
    /// <summary>
    /// Claims up to <paramref name="limit"/> unsent messages that are due, oldest first: job messages created before
    /// <paramref name="jobsCreatedBefore"/>, events created before <paramref name="eventsCreatedBefore"/>. A claimed
    /// message is invisible to every other claim (in any process) until <paramref name="lease"/> has passed, so
    /// relays on several replicas never publish the same message at once.
    /// </summary>
    Task<IReadOnlyList<OutboxMessage>> ClaimAsync(DateTimeOffset jobsCreatedBefore, DateTimeOffset eventsCreatedBefore,
        int limit, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Gives up claims on messages that were not published, so the next claim takes them at once.</summary>
    Task ReleaseAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);

    /// <summary>Records that the broker confirmed the message: it leaves the outbox.</summary>
    Task MarkSentAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Records that the broker confirmed these messages (they leave the outbox), in one statement.</summary>
    Task MarkSentAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken);

    /// <summary>How many messages wait for the broker's confirm, and when the oldest of them was written.</summary>
    Task<OutboxBacklog> BacklogAsync(CancellationToken cancellationToken);

    /// <summary>Wakes the relay: something was just written.</summary>
    void Notify();

    /// <summary>Completes when <see cref="Notify"/> is called (true) or <paramref name="timeout"/> passes (false).</summary>
    Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>Unsent outbox rows: their number and the creation time of the oldest (null when there is none).</summary>
public sealed record OutboxBacklog(long Count, DateTimeOffset? OldestCreatedAt);
