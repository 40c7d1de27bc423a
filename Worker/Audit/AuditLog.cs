using System.Data.Common;
using System.Text.Json;
using Worker.Batching;
using Worker.Persistence;

namespace Worker.Audit;

/// <summary>
/// The audit_log table of the Worker's database (<see cref="WorkerDatabase"/>), on either provider. Appends are
/// group-committed: records appended while the previous batch was being written share the next transaction (one
/// multi-row insert), so the event consumers' concurrent appends cost one commit, not one each.
/// </summary>
internal sealed class AuditLog : IAuditLog, IAsyncDisposable
{
    /// <summary>The most records one transaction appends.</summary>
    private const int MaxBatchSize = 100;

    private readonly WorkerDatabase _database;
    private readonly BatchQueue<AuditRecord, bool> _appends;

    public AuditLog(WorkerDatabase database)
    {
        _database = database;
        _appends = new BatchQueue<AuditRecord, bool>(AppendAllAsync, MaxBatchSize);
    }

    public Task<bool> AppendAsync(AuditRecord record, CancellationToken cancellationToken) =>
        _appends.EnqueueAsync(record, cancellationToken);

    public ValueTask DisposeAsync() => _appends.DisposeAsync();

    private async Task<IReadOnlyList<bool>> AppendAllAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken)
    {
        // ON CONFLICT DO NOTHING on the event id: a redelivered event is recorded once (within one batch, the first).
        var insert = new SqlBuilder("INSERT INTO audit_log (event_id, type, occurred_at, source, job_id, data, recorded_at) SELECT * FROM ")
            .Rows([.. records.Select(record => new object?[]
            {
                record.EventId.ToString(), record.Type, WorkerDatabase.Timestamp(record.OccurredAt), record.Source,
                record.JobId?.ToString(), record.Data.GetRawText(), WorkerDatabase.Timestamp(record.RecordedAt),
            })]);

        await using var connection = await _database.OpenAsync(cancellationToken);
        using var turn = await _database.WaitToWriteAsync(connection, cancellationToken);
        var added = await insert.Append(" WHERE true ON CONFLICT DO NOTHING RETURNING event_id").ReadStringsAsync(connection, null, cancellationToken);
        var answered = new HashSet<string>(StringComparer.Ordinal);
        return [.. records.Select(record => record.EventId.ToString() is var id && added.Contains(id) && answered.Add(id))];
    }

    public async Task<IReadOnlyList<AuditRecord>> ForJobAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, """
            SELECT event_id, type, occurred_at, source, job_id, data, recorded_at
            FROM audit_log WHERE job_id = @job_id ORDER BY recorded_at, event_id
            """, ("@job_id", jobId.ToString()));
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditRecord>> OfTypeAsync(string type, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
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
