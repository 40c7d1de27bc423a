using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Worker.Messaging;
using Worker.Messaging.Outbox;

namespace Worker.Events;

/// <summary>
/// The envelope of every event on the <c>events</c> fanout exchange, in both languages (docs/messaging.md, "Events"):
/// <c>{"id", "type", "occurredAt", "source", "data"}</c>, and <c>traceparent</c>, the trace the event belongs to (a job's),
/// when there is one. A message carries one envelope, or an array of envelopes of one type and routing key
/// (<see cref="EventBatches"/>); the AMQP <c>type</c> is their type and <c>message-id</c> the first one's
/// <c>id</c>, so a consumer can route without reading the body.
/// </summary>
public sealed record DomainEvent(Guid Id, string Type, DateTimeOffset OccurredAt, string Source, JsonElement Data,
    [property: JsonPropertyName("traceparent")] string? TraceParent = null)
{
    /// <summary>The most events one message may carry; a longer array is unreadable.</summary>
    public const int MaxPerMessage = 1000;

    // Every event name the Worker writes; each payload is a record in this folder (JobCompletedData, ...).
    public const string JobCompleted = "job.completed";
    public const string JobFailed = "job.failed";
    public const string ModelActivated = "model.activated";

    // Lines the notifications write to the audit log about a webhook (never published on the exchange).
    public const string WebhookDelivered = "webhook.delivered";
    public const string WebhookFailed = "webhook.failed";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public Guid? JobId => Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty("jobId", out var id)
                          && id.TryGetGuid(out var jobId) ? jobId : null;

    /// <summary>
    /// An event of this Worker (<c>source</c> "worker") as an outbox message for the events exchange, published with
    /// <paramref name="routingKey"/> (by default its type): the fanout ignores it, <c>events.by-type</c> routes by it.
    /// It belongs to the trace <paramref name="traceParent"/> (by default the current one), in its envelope and its
    /// message's header alike.
    /// </summary>
    internal static OutboxMessage Announce(string type, object data, Guid? jobId, MessagingOptions options, DateTimeOffset now,
        string? routingKey = null, string? traceParent = null)
    {
        traceParent ??= Activity.Current?.Id;
        var envelope = new DomainEvent(Guid.CreateVersion7(), type, now, "worker", JsonSerializer.SerializeToElement(data, Json),
            traceParent);
        return new OutboxMessage(envelope.Id, options.EventsExchange, routingKey ?? type, type,
            JsonSerializer.SerializeToUtf8Bytes(envelope, Json), traceParent, jobId, now);
    }

    /// <summary>The events of a message body, one (an envelope) or several (an array of them); null if any is unreadable.</summary>
    public static IReadOnlyList<DomainEvent>? TryParseAll(ReadOnlyMemory<byte> body)
    {
        try
        {
            if (body.Span.TrimStart(" \t\r\n"u8) is [(byte)'[', ..])
            {
                return JsonSerializer.Deserialize<DomainEvent[]>(body.Span, Json) is { Length: > 0 and <= MaxPerMessage } events
                       && events.All(IsComplete)
                    ? events
                    : null;
            }

            return JsonSerializer.Deserialize<DomainEvent>(body.Span, Json) is { } parsed && IsComplete(parsed) ? [parsed] : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsComplete(DomainEvent? parsed) =>
        parsed is { Id: var id, Type.Length: > 0, Source: not null } && id != Guid.Empty;
}
