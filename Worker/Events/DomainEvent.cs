using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Worker.Messaging;
using Worker.Messaging.Outbox;

namespace Worker.Events;

/// <summary>
/// The envelope of every message on the <c>events</c> fanout exchange, in both languages (docs/messaging.md, "Events"):
/// <c>{"id", "type", "occurredAt", "source", "data"}</c>; the AMQP <c>message-id</c> is <c>id</c> and <c>type</c>
/// is the AMQP type, so a consumer can route without reading the body.
/// </summary>
public sealed record DomainEvent(Guid Id, string Type, DateTimeOffset OccurredAt, string Source, JsonElement Data)
{
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
    /// </summary>
    internal static OutboxMessage Announce(string type, object data, Guid? jobId, MessagingOptions options, DateTimeOffset now,
        string? routingKey = null)
    {
        var envelope = new DomainEvent(Guid.CreateVersion7(), type, now, "worker", JsonSerializer.SerializeToElement(data, Json));
        return new OutboxMessage(envelope.Id, options.EventsExchange, routingKey ?? type, type,
            JsonSerializer.SerializeToUtf8Bytes(envelope, Json), Activity.Current?.Id, jobId, now);
    }

    public static DomainEvent? TryParse(ReadOnlyMemory<byte> body)
    {
        try
        {
            return JsonSerializer.Deserialize<DomainEvent>(body.Span, Json) is { Id: var id, Type.Length: > 0 } parsed
                   && id != Guid.Empty && parsed.Source is not null
                ? parsed
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
