using System.Globalization;
using Microsoft.Data.Sqlite;
using Worker.Persistence;

namespace Worker.Messaging.Outbox;

internal sealed class SqliteOutbox(WorkerDatabase database, TimeProvider clock) : IOutbox, IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Inserts a message inside the caller's transaction.</summary>
    public static Task AddAsync(SqliteConnection connection, SqliteTransaction transaction, OutboxMessage message,
        CancellationToken cancellationToken) =>
        WorkerDatabase.ExecuteAsync(connection, transaction, """
            INSERT INTO outbox (id, exchange, routing_key, type, body, traceparent, job_id, created_at)
            VALUES ($id, $exchange, $routing_key, $type, $body, $traceparent, $job_id, $created_at)
            """, cancellationToken,
            ("$id", message.Id.ToString()), ("$exchange", message.Exchange), ("$routing_key", message.RoutingKey),
            ("$type", message.Type), ("$body", message.Body.ToArray()), ("$traceparent", message.TraceParent),
            ("$job_id", message.JobId?.ToString()), ("$created_at", Timestamp(message.CreatedAt)));

    public async Task<IReadOnlyList<OutboxMessage>> PendingAsync(DateTimeOffset createdBefore, int limit,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, """
            SELECT id, exchange, routing_key, type, body, traceparent, job_id, created_at
            FROM outbox WHERE sent_at IS NULL AND created_at < $before ORDER BY created_at LIMIT $limit
            """, ("$before", Timestamp(createdBefore)), ("$limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var messages = new List<OutboxMessage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            messages.Add(new OutboxMessage(
                Guid.Parse(reader.GetString(0)),
                reader.GetString(1),
                reader.GetString(2),
                reader.GetString(3),
                (byte[])reader.GetValue(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : Guid.Parse(reader.GetString(6)),
                DateTimeOffset.Parse(reader.GetString(7), CultureInfo.InvariantCulture)));
        }

        return messages;
    }

    public async Task MarkSentAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await WorkerDatabase.ExecuteAsync(connection, null, "UPDATE outbox SET sent_at = $now WHERE id = $id AND sent_at IS NULL",
            cancellationToken, ("$id", id.ToString()), ("$now", Timestamp(clock.GetUtcNow())));
    }

    public async Task MarkSentAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        var now = Timestamp(clock.GetUtcNow());
        foreach (var id in ids)
        {
            await WorkerDatabase.ExecuteAsync(connection, transaction, "UPDATE outbox SET sent_at = $now WHERE id = $id AND sent_at IS NULL",
                cancellationToken, ("$id", id.ToString()), ("$now", now));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public void Notify()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled; one wake-up drains everything pending.
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _signal.Dispose();

    // Fixed-width UTC timestamps compare correctly as text.
    internal static string Timestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
