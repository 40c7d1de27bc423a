using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;

namespace Worker.Events;

/// <summary>
/// The envelope of every message on the <c>events</c> fanout exchange, in both languages (README, "Events"):
/// <c>{"id", "type", "occurredAt", "source", "data"}</c>; the AMQP <c>message-id</c> is <c>id</c> and <c>type</c>
/// is the AMQP type, so a consumer can route without reading the body.
/// </summary>
public sealed record DomainEvent(Guid Id, string Type, DateTimeOffset OccurredAt, string Source, JsonElement Data)
{
    public const string JobCompleted = "job.completed";
    public const string JobFailed = "job.failed";
    public const string WebhookFailed = "webhook.failed";
    public const string ModelActivated = "model.activated";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public Guid? JobId => Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty("jobId", out var id)
                          && id.TryGetGuid(out var jobId) ? jobId : null;

    /// <summary>An event of this Worker (<c>source</c> "worker") as an outbox message for the events exchange.</summary>
    internal static OutboxMessage Announce(string type, object data, Guid? jobId, MessagingOptions options, DateTimeOffset now)
    {
        var envelope = new DomainEvent(Guid.CreateVersion7(), type, now, "worker", JsonSerializer.SerializeToElement(data, Json));
        return new OutboxMessage(envelope.Id, options.EventsExchange, string.Empty, type,
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

/// <summary>The events the Worker announces, each as an outbox message written with the state change.</summary>
internal static class JobEvents
{
    public static OutboxMessage Completed(Job job, JsonElement result, MessagingOptions options, DateTimeOffset now) =>
        Message(DomainEvent.JobCompleted, new
        {
            jobId = job.Id,
            owner = job.Owner,
            model = job.Model,
            version = result.TryGetProperty("version", out var version) ? version.GetString() : null,
            attempts = job.Attempts,
            predictions = result.TryGetProperty("predictions", out var predictions) ? predictions : default(JsonElement?),
        }, job.Id, options, now);

    public static OutboxMessage Failed(Job job, ProblemDetails error, MessagingOptions options, DateTimeOffset now) =>
        Message(DomainEvent.JobFailed, new
        {
            jobId = job.Id,
            owner = job.Owner,
            model = job.Model,
            attempts = job.Attempts,
            error,
        }, job.Id, options, now);

    private static OutboxMessage Message(string type, object data, Guid jobId, MessagingOptions options, DateTimeOffset now) =>
        DomainEvent.Announce(type, data, jobId, options, now);
}
