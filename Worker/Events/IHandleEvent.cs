namespace Worker.Events;

/// <summary>The typed <c>data</c> of one event type; <see cref="EventType"/> is the name it travels under.</summary>
public interface IEventData
{
    static abstract string EventType { get; }
}

/// <summary>
/// Handles one event type with its typed data (after eShop's <c>IIntegrationEventHandler&lt;T&gt;</c>). The delivery
/// is acknowledged once every handler returned, so a handler commits its effects before it returns and keys them
/// by the event id: a redelivered event must change nothing.
/// </summary>
public interface IHandleEvent<in TData>
    where TData : IEventData
{
    Task HandleAsync(DomainEvent envelope, TData data, CancellationToken cancellationToken);
}

/// <summary>Handles every event whatever its type, with its data as it came (the audit log); the same contract.</summary>
public interface IHandleEveryEvent
{
    Task HandleAsync(DomainEvent envelope, CancellationToken cancellationToken);
}
