using System.Diagnostics;
using Worker.Persistence;

namespace Worker.Tests;

/// <summary>
/// How a SQLite connection of the Worker waits for the write lock another connection holds (two replicas and several
/// group-committing writers share one file): every millisecond, then every 5 ms, not SQLite's own back-off, which
/// sleeps up to 100 ms at a time however soon the lock is free. And how the writers of one process take turns before
/// that, waiting without a thread (each <see cref="SqliteDialect"/> is one process's, a replica's).
/// </summary>
public sealed class SqliteWriteLockTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));
    private SqliteDialect _dialect = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _dialect = new SqliteDialect(Path.Combine(_folder, "jobs.db"));
        await new WorkerDatabase(_dialect).MigrateAsync(Token);
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public void The_wait_tries_again_until_the_timeout_and_then_gives_up()
    {
        Assert.Equal(1, SqliteDialect.WaitForTheWriteLock(IntPtr.Zero, 0));
        Assert.Equal(1, SqliteDialect.WaitForTheWriteLock(IntPtr.Zero, 60));
        // 50 tries a millisecond apart, then 5 ms apart: 30 s are used up after 50 + 29,950 / 5 tries.
        Assert.Equal(0, SqliteDialect.WaitForTheWriteLock(IntPtr.Zero, 50 + (30_000 - 50) / 5));
    }

    [Fact]
    public async Task A_write_that_found_the_lock_held_goes_ahead_within_milliseconds_of_its_release()
    {
        await using var holder = await _dialect.OpenAsync(Token);
        await using (var hold = await _dialect.BeginWriteAsync(holder, Token))
        {
            // Another replica's writer: its own turn is free, so it waits in SQLite.
            var replica = new SqliteDialect(_dialect.FilePath);
            await using var waiter = await replica.OpenAsync(Token);
            var waited = Stopwatch.StartNew();
            var write = Task.Run(async () =>
            {
                using var turn = await replica.WaitToWriteAsync(Token);
                return await WorkerDatabase.ExecuteAsync(waiter, null,
                    "INSERT INTO schema_version (version, applied_at) VALUES (1000, 'now')", Token);
            }, Token);
            // Released 440 ms after the write began to wait: SQLite's own back-off would try again at 428 and then
            // at 528 ms (88 ms late); trying every 5 ms by then, the write goes ahead a few milliseconds after.
            await Task.Delay(TimeSpan.FromMilliseconds(440) - waited.Elapsed, Token);
            Assert.False(write.IsCompleted);
            await hold.CommitAsync(Token);
            var released = waited.Elapsed;

            Assert.Equal(1, await write);
            Assert.True(waited.Elapsed - released < TimeSpan.FromMilliseconds(50),
                $"the write went ahead {(waited.Elapsed - released).TotalMilliseconds:0} ms after the lock was released");
        }
    }

    [Fact]
    public async Task A_pooled_connection_keeps_its_settings_each_time_it_is_opened()
    {
        for (var open = 0; open < 3; open++)
        {
            await using var connection = await _dialect.OpenAsync(Token);
            Assert.Equal(1L, await WorkerDatabase.ScalarAsync(connection, null, "PRAGMA synchronous", Token)); // NORMAL
        }
    }

    [Fact]
    public async Task A_writer_of_the_process_waits_for_its_turn_without_a_thread_and_in_the_order_it_came()
    {
        await using var holder = await _dialect.OpenAsync(Token);
        var hold = await _dialect.BeginWriteAsync(holder, Token);
        var order = new List<int>();
        var writers = Enumerable.Range(0, 3).Select(async i =>
        {
            await using var connection = await _dialect.OpenAsync(Token);
            // Not yet begun when the holder ends: the call returned at once (a writer blocked in SQLite would hold
            // this thread until the lock was free), and the first statement runs in this writer's turn.
            var begun = _dialect.BeginWriteAsync(connection, Token);
            Assert.False(begun.IsCompleted);
            await using var write = await begun;
            lock (order)
            {
                order.Add(i);
            }

            await WorkerDatabase.ExecuteAsync(connection, write, "INSERT INTO schema_version (version, applied_at) VALUES (@v, 'now')",
                Token, ("@v", 2000 + i));
            await write.CommitAsync(Token);
        }).ToList();

        await Task.Delay(100, Token);
        Assert.Empty(order);
        await hold.DisposeAsync(); // rolled back: the turn is passed on all the same
        await Task.WhenAll(writers);

        Assert.Equal([0, 1, 2], order);
    }

    [Fact]
    public async Task A_statement_outside_a_transaction_waits_for_the_turn_too_and_a_cancelled_wait_takes_none()
    {
        using (await _dialect.WaitToWriteAsync(Token))
        {
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Token);
            var waiting = _dialect.WaitToWriteAsync(cancel.Token).AsTask();
            await Task.Delay(50, Token);
            Assert.False(waiting.IsCompleted);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        }

        // The turn was passed on once, whatever the cancelled wait did: the next writer gets it at once.
        var next = _dialect.WaitToWriteAsync(Token);
        Assert.True(next.IsCompleted);
        var turn = await next;
        turn.Dispose();
        turn.Dispose(); // a second dispose passes nothing on
        Task<WriteTurn> after;
        using (await _dialect.WaitToWriteAsync(Token))
        {
            after = _dialect.WaitToWriteAsync(Token).AsTask();
            Assert.False(after.IsCompleted);
        }

        (await after).Dispose();
    }

    [Fact]
    public async Task Once_a_turn_that_wrote_ends_a_read_mark_is_at_the_wals_end_so_the_next_read_stores_nothing()
    {
        // The wal-index in the -shm file (SQLite's file format, "The WAL-Index Format"): the first header's mxFrame,
        // the WAL's last committed frame, at byte 16; aReadMark[1..4] at bytes 104 to 119. A read that finds a mark
        // equal to mxFrame writes nothing there, and so waits for no stalled disk.
        await using var connection = await _dialect.OpenAsync(Token);
        using (await _dialect.WaitToWriteAsync(connection, Token))
        {
            await WorkerDatabase.ExecuteAsync(connection, null,
                "INSERT INTO schema_version (version, applied_at) VALUES (4000, 'now')", Token);
        }

        var (end, marks) = WalIndex();
        Assert.True(marks.Contains(end), $"no read mark at the WAL's end {end} after a statement's turn: {string.Join(", ", marks)}");

        await using (var write = await _dialect.BeginWriteAsync(connection, Token))
        {
            await WorkerDatabase.ExecuteAsync(connection, write,
                "INSERT INTO schema_version (version, applied_at) VALUES (4001, 'now')", Token);
            await write.CommitAsync(Token);
        }

        var (later, marksLater) = WalIndex();
        Assert.True(later > end, $"the commit did not move the WAL's end ({end} → {later})");
        Assert.True(marksLater.Contains(later), $"no read mark at the WAL's end {later} after a transaction's turn: {string.Join(", ", marksLater)}");
    }

    private (uint End, uint[] Marks) WalIndex()
    {
        using var shm = new FileStream(_dialect.FilePath + "-shm", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[120];
        shm.ReadExactly(bytes);
        return (BitConverter.ToUInt32(bytes, 16), [.. Enumerable.Range(0, 4).Select(i => BitConverter.ToUInt32(bytes, 104 + 4 * i))]);
    }

    [Fact]
    public async Task A_statement_that_writes_without_a_turn_fails_in_a_debug_build()
    {
        await using var connection = await _dialect.OpenAsync(Token);
        const string insert = "INSERT INTO schema_version (version, applied_at) VALUES (3000, 'now')";
#if DEBUG
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(
            () => WorkerDatabase.ExecuteAsync(connection, null, insert, Token));
        Assert.Contains("turn to write", refused.Message, StringComparison.Ordinal);
#endif
        // A read needs no turn; the write goes ahead in one.
        Assert.Equal(0L, await WorkerDatabase.ScalarAsync(connection, null,
            "SELECT COUNT(*) FROM schema_version WHERE version = 3000", Token));
        using (await _dialect.WaitToWriteAsync(Token))
        {
            Assert.Equal(1, await WorkerDatabase.ExecuteAsync(connection, null, insert, Token));
        }
    }

    [Theory]
    [InlineData("INSERT INTO jobs (id) VALUES (@id)", true)]
    [InlineData("  update jobs SET status = 'done'", true)]
    [InlineData("DELETE FROM outbox WHERE id = @id RETURNING id", true)]
    [InlineData("WITH c AS (SELECT id FROM outbox) UPDATE outbox SET claimed_until = @t", true)]
    [InlineData("SELECT id, updated_at FROM jobs WHERE status = 'deleted'", false)]
    [InlineData("PRAGMA synchronous", false)]
    public void A_statement_writes_when_it_names_insert_update_or_delete(string sql, bool writes) =>
        Assert.Equal(writes, SqliteDialect.Writes(sql));
}
