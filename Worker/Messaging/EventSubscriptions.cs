using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Worker.Events;

namespace Worker.Messaging;

/// <summary>
/// Which handlers one event queue's deliveries go to, by event type (after eShop's subscription info). Dispatch
/// reads the envelopes (one, or a batch), reads the typed data of each one's type, and calls the handlers in a scope of
/// their own; an event nobody subscribed to is acknowledged and ignored, an unreadable envelope or data is rejected
/// (dead-lettered).
/// </summary>
internal sealed partial class EventSubscriptions
{
    // Our own events are written from these same records, so data that misses a member or nulls a non-nullable one
    // cannot be handled: it is rejected rather than handled with defaults.
    private static readonly JsonSerializerOptions ReadOptions = new(DomainEvent.Json)
    {
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    private readonly Dictionary<string, Route> _routes = new(StringComparer.Ordinal);
    private readonly List<Func<IServiceProvider, DomainEvent, CancellationToken, Task>> _everyEvent = [];

    public void Add<TData, THandler>()
        where TData : IEventData
        where THandler : IHandleEvent<TData>
    {
        if (!_routes.TryGetValue(TData.EventType, out var route))
        {
            route = new Route(typeof(TData), data => data.Deserialize<TData>(ReadOptions));
            _routes.Add(TData.EventType, route);
        }
        else if (route.DataType != typeof(TData))
        {
            throw new InvalidOperationException($"{TData.EventType} carries {route.DataType.Name}, not {typeof(TData).Name}.");
        }

        route.Handlers.Add((services, envelope, data, cancellationToken) =>
            services.GetRequiredService<THandler>().HandleAsync(envelope, (TData)data, cancellationToken));
    }

    public void AddForEveryEvent<THandler>()
        where THandler : IHandleEveryEvent =>
        _everyEvent.Add((services, envelope, cancellationToken) =>
            services.GetRequiredService<THandler>().HandleAsync(envelope, cancellationToken));

    /// <summary>
    /// Hands each event of a delivery (one, or the array of a batch) to its handlers, every event in a scope of its own
    /// and all at once, so that a batch's audit appends share one group commit. The delivery is rejected whole if any
    /// of its events is unreadable (our publishers do not write one), and goes back to the queue if any handler threw:
    /// handlers record each event once per id, so the events handled before change nothing the second time.
    /// </summary>
    public async Task<DeliveryOutcome> DispatchAsync(IServiceProvider services, ReadOnlyMemory<byte> body, string? messageId,
        ILogger logger, CancellationToken cancellationToken)
    {
        if (DomainEvent.TryParseAll(body) is not { } envelopes)
        {
            LogUnreadable(logger, messageId);
            return DeliveryOutcome.Reject;
        }

        var handlings = new List<(DomainEvent Envelope, Route? Route, object? Data)>(envelopes.Count);
        foreach (var envelope in envelopes)
        {
            _routes.TryGetValue(envelope.Type, out var route);
            object? data = null;
            if (route is not null && !route.TryRead(envelope.Data, out data))
            {
                LogUnreadableData(logger, envelope.Type, envelope.Id);
                return DeliveryOutcome.Reject;
            }

            if (route is not null || _everyEvent.Count > 0)
            {
                handlings.Add((envelope, route, data));
            }
        }

        if (envelopes.Count > 1)
        {
            // As the Worker's model call of a job batch links the jobs after the first.
            MessagingTelemetry.LinkBatch([.. envelopes.Select(envelope => envelope.TraceParent)]);
        }

        await Task.WhenAll(handlings.Select(handling => HandleAsync(services, handling.Envelope, handling.Route, handling.Data,
            cancellationToken)));
        return DeliveryOutcome.Ack;
    }

    private async Task HandleAsync(IServiceProvider services, DomainEvent envelope, Route? route, object? data,
        CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        foreach (var handle in _everyEvent)
        {
            await handle(scope.ServiceProvider, envelope, cancellationToken);
        }

        foreach (var handle in route?.Handlers ?? [])
        {
            await handle(scope.ServiceProvider, envelope, data!, cancellationToken);
        }
    }

    private sealed class Route(Type dataType, Func<JsonElement, object?> read)
    {
        public Type DataType => dataType;

        public List<Func<IServiceProvider, DomainEvent, object, CancellationToken, Task>> Handlers { get; } = [];

        public bool TryRead(JsonElement json, out object? data)
        {
            try
            {
                data = read(json);
            }
            catch (JsonException)
            {
                data = null;
            }

            return data is not null;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-lettered an unreadable event (message id {MessageId}).")]
    private static partial void LogUnreadable(ILogger logger, string? messageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-lettered {Type} event {EventId}: its data does not read as that type.")]
    private static partial void LogUnreadableData(ILogger logger, string type, Guid eventId);
}

/// <summary>Registers an event queue's consumer and the handlers its deliveries go to.</summary>
internal static class EventConsumerRegistration
{
    public static EventConsumerBuilder AddEventConsumer<TConsumer>(this IServiceCollection services)
        where TConsumer : EventConsumer
    {
        var subscriptions = new EventSubscriptions();
        services.AddKeyedSingleton<EventSubscriptions>(typeof(TConsumer), subscriptions);
        services.AddHostedService<TConsumer>();
        return new EventConsumerBuilder(services, subscriptions);
    }
}

internal sealed class EventConsumerBuilder(IServiceCollection services, EventSubscriptions subscriptions)
{
    /// <summary>Deliveries of <typeparamref name="TData"/>'s event type go to <typeparamref name="THandler"/>.</summary>
    public EventConsumerBuilder On<TData, THandler>()
        where TData : IEventData
        where THandler : class, IHandleEvent<TData>
    {
        services.TryAddScoped<THandler>();
        subscriptions.Add<TData, THandler>();
        return this;
    }

    /// <summary>Every delivery, whatever its type, goes to <typeparamref name="THandler"/>.</summary>
    public EventConsumerBuilder OnEveryEvent<THandler>()
        where THandler : class, IHandleEveryEvent
    {
        services.TryAddScoped<THandler>();
        subscriptions.AddForEveryEvent<THandler>();
        return this;
    }
}
