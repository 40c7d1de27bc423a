using System.Data.Common;
using System.Text.Json;
using Worker.Persistence;

namespace Worker.Audit;

/// <summary>The audit_log table of the Worker's database (<see cref="WorkerDatabase"/>), on either provider.</summary>
internal sealed class AuditLog(WorkerDatabase database) : IAuditLog
{
    public async Task<bool> AppendAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // ON CONFLICT DO NOTHING on the event id: a redelivered event is recorded once.
        return await WorkerDatabase.ExecuteAsync(connection, null, """
            INSERT INTO audit_log (event_id, type, occurred_at, source, job_id, data, recorded_at)
            VALUES (@event_id, @type, @occurred_at, @source, @job_id, @data, @recorded_at)
            ON CONFLICT DO NOTHING
            """, cancellationToken,
            ("@event_id", record.EventId.ToString()), ("@type", record.Type),
            ("@occurred_at", WorkerDatabase.Timestamp(record.OccurredAt)), ("@source", record.Source),
            ("@job_id", record.JobId?.ToString()), ("@data", record.Data.GetRawText()),
            ("@recorded_at", WorkerDatabase.Timestamp(record.RecordedAt))) == 1;
    }

    public async Task<IReadOnlyList<AuditRecord>> ForJobAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, """
            SELECT event_id, type, occurred_at, source, job_id, data, recorded_at
            FROM audit_log WHERE job_id = @job_id ORDER BY recorded_at, event_id
            """, ("@job_id", jobId.ToString()));
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditRecord>> OfTypeAsync(string type, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, """
            SELECT * FROM (
                SELECT event_id, type, occurred_at, source, job_id, data, recorded_at
                FROM audit_log WHERE type = @type ORDER BY recorded_at DESC, event_id DESC LIMIT @limit) AS latest
            ORDER BY recorded_at, event_id
            """, ("@type", type), ("@limit", limit));
        return await ReadAsync(command, cancellationToken);
    }

    private static async Task<IReadOnlyList<AuditRecord>> ReadAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var records = new List<AuditRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(new AuditRecord(
                Guid.Parse(reader.GetString(0)),
                reader.GetString(1),
                WorkerDatabase.ParseTimestamp(reader.GetString(2)),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : Guid.Parse(reader.GetString(4)),
                JsonElement.Parse(reader.GetString(5)),
                WorkerDatabase.ParseTimestamp(reader.GetString(6))));
        }

        return records;
    }
}
