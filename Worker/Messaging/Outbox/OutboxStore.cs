using System.Data.Common;
using Worker.Persistence;

namespace Worker.Messaging.Outbox;

/// <summary>The outbox table of the Worker's database (<see cref="WorkerDatabase"/>), on either provider.</summary>
internal sealed class OutboxStore(WorkerDatabase database, TimeProvider clock) : IOutbox, IDisposable
{
    private const string Columns = "id, exchange, routing_key, type, body, traceparent, job_id, created_at";

    private readonly SemaphoreSlim _signal = new(0, 1);
    private int _writtenSinceClaim;

    /// <summary>Inserts a message inside the caller's transaction.</summary>
    public static Task AddAsync(DbConnection connection, DbTransaction transaction, OutboxMessage message,
        CancellationToken cancellationToken) => AddAsync(connection, transaction, [message], cancellationToken);

    /// <summary>Inserts messages inside the caller's transaction, in one statement.</summary>
    public static Task AddAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<OutboxMessage> messages,
        CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            return Task.CompletedTask;
        }

        return new SqlBuilder($"INSERT INTO outbox ({Columns}) SELECT * FROM ").Rows(RowsOf(messages)).Append(" WHERE true")
            .ExecuteAsync(connection, transaction, cancellationToken);
    }

    /// <summary>
    /// An INSERT of <paramref name="messages"/> for a batch of statements read together, returning the ids it wrote: a
    /// message whose id is taken is left out rather than failing the batch (the caller decides).
    /// </summary>
    public static SqlBuilder Insert(IReadOnlyCollection<OutboxMessage> messages) =>
        new SqlBuilder($"INSERT INTO outbox ({Columns}) SELECT * FROM ").Rows(RowsOf(messages))
            .Append(" WHERE true ON CONFLICT DO NOTHING RETURNING id");

    /// <summary>Deletes the messages <paramref name="ids"/> inside the caller's transaction.</summary>
    public static Task DeleteAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<Guid> ids,
        CancellationToken cancellationToken) =>
        ids.Count == 0
            ? Task.CompletedTask
            : new SqlBuilder("DELETE FROM outbox WHERE id ").In([.. ids.Select(id => (object?)id.ToString())])
                .ExecuteAsync(connection, transaction, cancellationToken);

    /// <summary>One row of <see cref="Columns"/> per message.</summary>
    private static List<object?[]> RowsOf(IEnumerable<OutboxMessage> messages) =>
    [
        .. messages.Select(message => new object?[]
        {
            message.Id.ToString(), message.Exchange, message.RoutingKey, message.Type, message.Body.ToArray(),
            message.TraceParent, message.JobId?.ToString(), WorkerDatabase.Timestamp(message.CreatedAt),
        }),
    ];

    public async Task<IReadOnlyList<OutboxMessage>> ClaimAsync(DateTimeOffset jobsCreatedBefore,
        DateTimeOffset eventsCreatedBefore, int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        const string due = """
            sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < @now)
            AND ((type = @job_type AND created_at < @jobs_before) OR (type <> @job_type AND created_at < @events_before))
            """;
        var now = clock.GetUtcNow();
        (string, object?)[] parameters =
        [
            ("@now", WorkerDatabase.Timestamp(now)), ("@job_type", OutboxRelay.JobMessageType),
            ("@jobs_before", WorkerDatabase.Timestamp(jobsCreatedBefore)),
            ("@events_before", WorkerDatabase.Timestamp(eventsCreatedBefore)),
        ];
        await using var connection = await database.OpenAsync(cancellationToken);
        // Most periodic sweeps find nothing due: a read first takes no write lock (SQLite) and locks no row
        // (PostgreSQL). After this process's own commit (Notify) there is something, so the read would be a wasted
        // statement per batch of jobs.
        var written = Interlocked.Exchange(ref _writtenSinceClaim, 0) == 1;
        if (!written && await WorkerDatabase.ScalarAsync(connection, null, $"SELECT 1 FROM outbox WHERE {due} LIMIT 1",
                cancellationToken, parameters) is null)
        {
            return [];
        }

        // One statement: the inner SELECT picks due rows nobody holds (PostgreSQL skips rows another claim has
        // locked; SQLite has one writer anyway), the UPDATE leases them and RETURNING hands them over.
        using var turn = await database.WaitToWriteAsync(connection, cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, $"""
            UPDATE outbox SET claimed_until = @lease_end
            WHERE id IN (SELECT id FROM outbox WHERE {due} ORDER BY created_at LIMIT @limit {database.Dialect.SkipLocked})
            RETURNING {Columns}
            """, [.. parameters, ("@lease_end", WorkerDatabase.Timestamp(now + lease)), ("@limit", limit)]);
        var messages = await ReadAsync(command, cancellationToken);
        messages.Sort((a, b) => a.CreatedAt.CompareTo(b.CreatedAt)); // RETURNING keeps no order
        return messages;
    }

    public async Task<OutboxBacklog> BacklogAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null,
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL", []);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new OutboxBacklog(Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture),
            reader.IsDBNull(1) ? null : WorkerDatabase.ParseTimestamp(reader.GetString(1)));
    }

    public Task ReleaseAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken) =>
        ExecuteForAllAsync(ids, new SqlBuilder("UPDATE outbox SET claimed_until = NULL WHERE sent_at IS NULL AND id "),
            cancellationToken);

    /// <summary>Every unsent message created before <paramref name="createdBefore"/>, claimed or not, oldest first.</summary>
    public async Task<IReadOnlyList<OutboxMessage>> PendingAsync(DateTimeOffset createdBefore, int limit,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, $"""
            SELECT {Columns} FROM outbox WHERE sent_at IS NULL AND created_at < @before ORDER BY created_at LIMIT @limit
            """, ("@before", WorkerDatabase.Timestamp(createdBefore)), ("@limit", limit));
        return await ReadAsync(command, cancellationToken);
    }

    public Task MarkSentAsync(Guid id, CancellationToken cancellationToken) => MarkSentAsync([id], cancellationToken);

    /// <summary>
    /// A confirmed message leaves the outbox: nothing reads a sent message again, and deleting it is one write where
    /// marking it kept the row (a new row version on PostgreSQL, with its index entries) until the retention sweep
    /// deleted it days later, so the table grew with every message ever sent. (Rows that builds before this one marked
    /// <c>sent_at</c> still go with the sweep.)
    /// </summary>
    public Task MarkSentAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken) =>
        ExecuteForAllAsync(ids, new SqlBuilder("DELETE FROM outbox WHERE sent_at IS NULL AND id "), cancellationToken);

    public void Notify()
    {
        Volatile.Write(ref _writtenSinceClaim, 1);
        // Already signalled: one wake-up drains everything pending. Checked first so that a busy outbox does not throw
        // (and count in the runtime's exception metrics) once a second; the catch covers the race between the two.
        if (_signal.CurrentCount > 0)
        {
            return;
        }

        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Signalled by another thread in between.
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _signal.Dispose();

    /// <summary>One statement for all <paramref name="ids"/> (appended to <paramref name="statement"/>, an UPDATE or DELETE, as an <c>IN</c> list).</summary>
    private async Task ExecuteForAllAsync(IReadOnlyCollection<Guid> ids, SqlBuilder statement, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        using var turn = await database.WaitToWriteAsync(connection, cancellationToken);
        await statement.In(ids.Select(id => (object?)id.ToString())).ExecuteAsync(connection, null, cancellationToken);
    }

    private static async Task<List<OutboxMessage>> ReadAsync(DbCommand command, CancellationToken cancellationToken)
    {
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
                WorkerDatabase.ParseTimestamp(reader.GetString(7))));
        }

        return messages;
    }
}
