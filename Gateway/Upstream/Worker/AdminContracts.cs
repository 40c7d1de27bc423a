using System.Text.Json;

namespace Gateway.Upstream.Worker;

/// <summary>A job message in the dead-letter queue: its job, attempts, last error, and the job's model and status.</summary>
public sealed record DeadJob(Guid? JobId, string? MessageId, int Attempts, string? LastError, string? Model, string? Status);

public sealed record DeadJobList(IReadOnlyList<DeadJob> Items);

/// <summary>The jobs put back on the queue, and the dead messages left where they were (with why).</summary>
public sealed record RequeueReport(IReadOnlyList<Guid> Requeued, IReadOnlyList<string> Skipped);

/// <summary>Whether the jobs queue is consumed, and who changed that last.</summary>
public sealed record ConsumptionState(string Queue, bool Paused, DateTimeOffset? ChangedAt, string? ChangedBy);

/// <summary>One line of the Worker's append-only audit log: an event as it was recorded (its data as the event carried it).</summary>
public sealed record AuditRecord(Guid EventId, string Type, DateTimeOffset OccurredAt, string Source, Guid? JobId,
    JsonElement Data, DateTimeOffset RecordedAt);
