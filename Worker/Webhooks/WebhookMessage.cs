using System.Text.Json;

namespace Worker.Webhooks;

/// <summary>
/// The body of a message on the <c>webhooks</c> queue: one delivery of one event to one callback, with what the audit
/// line about it needs. <see cref="Body"/> is the signed JSON, byte for byte the same on every attempt (base64 here);
/// the attempt number travels in the <c>x-attempt</c> header, as on the jobs queue.
/// </summary>
public sealed record WebhookMessage(
    Guid EventId, string EventType, DateTimeOffset OccurredAt, Guid JobId, string Owner, string Url, byte[] Body)
{
    public const string MessageType = "webhook.delivery";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    /// <summary>The delivery id is the event id, so every attempt (and a repeated event) carries the same Webhook-Id.</summary>
    public WebhookDelivery ToDelivery() => new(EventId.ToString(), Url, Body) { Owner = Owner };

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static WebhookMessage? TryParse(ReadOnlyMemory<byte> body)
    {
        try
        {
            return JsonSerializer.Deserialize<WebhookMessage>(body.Span, Json) is { EventId: var id, Owner.Length: > 0, Url.Length: > 0 } message
                   && id != Guid.Empty
                ? message
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
