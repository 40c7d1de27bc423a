using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Worker.Events;

namespace Worker.Audit;

/// <summary>
/// What goes into the append-only audit log: every event on the exchange as it came, and the lines handlers write
/// about what they did with an event (<c>webhook.delivered</c>, <c>webhook.failed</c>). Each is written once,
/// however often its event is delivered.
/// </summary>
internal sealed class AuditTrail(IAuditLog audit, TimeProvider clock) : IHandleEveryEvent
{
    public Task HandleAsync(DomainEvent envelope, CancellationToken cancellationToken) =>
        audit.AppendAsync(new AuditRecord(envelope.Id, envelope.Type, envelope.OccurredAt, envelope.Source, envelope.JobId, envelope.Data,
            clock.GetUtcNow()), cancellationToken);

    /// <summary>Records what <paramref name="source"/> did about <paramref name="cause"/>, once per event and line type.</summary>
    public Task RecordAsync<TData>(DomainEvent cause, string source, Guid? jobId, TData data, CancellationToken cancellationToken)
        where TData : IEventData
    {
        // Derived from the event, so a redelivered event does not write a second line.
        var recordId = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"{cause.Id}/{TData.EventType}")).AsSpan(0, 16));
        var now = clock.GetUtcNow();
        return audit.AppendAsync(new AuditRecord(recordId, TData.EventType, now, source, jobId,
            JsonSerializer.SerializeToElement(data, DomainEvent.Json), now), cancellationToken);
    }
}
