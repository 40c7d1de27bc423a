using Worker.Persistence;

namespace Worker.Admin;

/// <summary>Whether a queue's consumption is paused, as an operator last set it (the queue_switches table).</summary>
public sealed record ConsumptionState(string Queue, bool Paused, DateTimeOffset? ChangedAt, string? ChangedBy);

/// <summary>The queue_switches table: shared by every replica, so one operator's pause holds for all of them.</summary>
internal sealed class QueueSwitchStore(WorkerDatabase database, TimeProvider clock)
{
    public async Task<ConsumptionState> GetAsync(string queue, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null,
            "SELECT paused, changed_at, changed_by FROM queue_switches WHERE queue = @queue", ("@queue", queue));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ConsumptionState(queue, Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture) != 0,
                WorkerDatabase.ParseTimestamp(reader.GetString(1)), reader.GetString(2))
            : new ConsumptionState(queue, Paused: false, ChangedAt: null, ChangedBy: null);
    }

    public async Task<ConsumptionState> SetAsync(string queue, bool paused, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        using var turn = await database.WaitToWriteAsync(connection, cancellationToken);
        await WorkerDatabase.ExecuteAsync(connection, null, """
            INSERT INTO queue_switches (queue, paused, changed_at, changed_by) VALUES (@queue, @paused, @now, @actor)
            ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, changed_at = excluded.changed_at, changed_by = excluded.changed_by
            """, cancellationToken, ("@queue", queue), ("@paused", paused ? 1 : 0), ("@now", WorkerDatabase.Timestamp(now)),
            ("@actor", actor));
        return new ConsumptionState(queue, paused, now, actor);
    }
}
