using System.Text.Json;

namespace Worker.Audit;

/// <summary>One line of the append-only audit log: an event as it was received, recorded once per event id.</summary>
public sealed record AuditRecord(Guid EventId, string Type, DateTimeOffset OccurredAt, string Source, Guid? JobId,
    JsonElement Data, DateTimeOffset RecordedAt);
