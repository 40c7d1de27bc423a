using Chaos.Verdict;
using Microsoft.Data.Sqlite;
using RabbitMQ.Client;

namespace Chaos.Load;

/// <summary>
/// What a job submission waits on and a prediction does not, each timed every <see cref="Interval"/> beside the load:
/// a 4 KiB write synced to the disk (in the Worker's database folder, on the file system the broker's and the
/// database's files share), a persistent message the broker confirms (to a queue of its own, which keeps one message),
/// and the SQLite database's write lock taken and given back. When submissions stall and predictions do not, the
/// report's timeline shows which of the three stalled with them (docs/reliability.md). A fourth times the driver
/// itself: how late its own 100 ms timer fires, back to back. The load is paced by such timers, and sends what it
/// owes when it catches up, so a pause of the driver (its garbage collector, the machine's cores taken) comes back as
/// a burst the stack did not cause. A fifth times the machine: how far the wall clock moves past the monotonic one in
/// such a timer, which is how a pause of the whole virtual machine shows (<see cref="StallProbe.ClockJumps"/>).
/// </summary>
public sealed class StallProbes : IAsyncDisposable
{
    public const string Disk = "disk fsync";
    public const string Broker = "broker confirm";
    public const string WriteLock = "SQLite write lock";
    public const string DriverTimer = "driver's timer late";
    public const string MachinePaused = "machine paused";

    /// <summary>The probe queue on the machine's broker; deleted when the run ends.</summary>
    public const string ProbeQueue = "chaos.stall-probe";

    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest one wait is given: past it the wait counts as failed (the broker's is cancelled then; a synced
    /// write cannot be, and SQLite gives up on the lock after as long).
    /// </summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    private readonly List<StallProbe> _probes = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private readonly List<IAsyncDisposable> _resources = [];

    public IReadOnlyList<ProbeSeries> Series => [.. _probes.Select(p => p.Series)];

    /// <summary>
    /// Starts the probes: the disk and the write lock when the Worker keeps its jobs in SQLite at
    /// <paramref name="databasePath"/> (otherwise the disk in <paramref name="otherwiseFolder"/>: the state's own file
    /// system, which holds PostgreSQL's data then, or the run's output folder), the broker always.
    /// </summary>
    public static StallProbes Start(string brokerConnectionString, string? databasePath, string otherwiseFolder)
    {
        var probes = new StallProbes();
        probes.Add(new StallProbe(DriverTimer, cancellationToken => Task.Delay(Interval, cancellationToken), expected: Interval),
            interval: TimeSpan.Zero);
        probes.Add(StallProbe.ClockJumps(MachinePaused, Interval), interval: TimeSpan.Zero);
        var folder = databasePath is null ? otherwiseFolder : Path.GetDirectoryName(databasePath)!;
        Directory.CreateDirectory(folder);
        var disk = new SyncedWrite(Path.Combine(folder, ".chaos-stall-probe"));
        probes._resources.Add(disk);
        probes.Add(new StallProbe(Disk, disk.WaitAsync));

        var broker = new ConfirmedPublish(new Uri(brokerConnectionString));
        probes._resources.Add(broker);
        probes.Add(new StallProbe(Broker, broker.WaitAsync));

        if (databasePath is not null)
        {
            var writeLock = new WriteLockTaken(databasePath);
            probes._resources.Add(writeLock);
            probes.Add(new StallProbe(WriteLock, writeLock.WaitAsync));
        }

        return probes;
    }

    private void Add(StallProbe probe, TimeSpan? interval = null)
    {
        _probes.Add(probe);
        _running.Add(Task.Run(() => probe.RunAsync(interval ?? Interval, WaitLimit, _stop.Token)));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_running);
        foreach (var resource in _resources)
        {
            await resource.DisposeAsync();
        }

        _stop.Dispose();
    }

    /// <summary>A 4 KiB write to a file of its own, then fsync: what a commit that must reach the disk waits for.</summary>
    private sealed class SyncedWrite(string path) : IAsyncDisposable
    {
        private readonly FileStream _file = new(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        private readonly byte[] _block = new byte[4096];
        private long _writes;

        public Task WaitAsync(CancellationToken cancellationToken) => OnOwnThread(() =>
        {
            // Over the same 256 blocks again and again: the file stays at 1 MiB.
            Random.Shared.NextBytes(_block);
            _file.Position = _writes++ % 256 * _block.Length;
            _file.Write(_block);
            _file.Flush(flushToDisk: true);
        }, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await _file.DisposeAsync();
            File.Delete(path);
        }
    }

    /// <summary>
    /// A persistent message to a durable classic queue (as the jobs queue is) that keeps only the last one, published
    /// with confirms: the wait is the broker's confirm. A failure (the broker restarted) opens a new connection next time.
    /// </summary>
    private sealed class ConfirmedPublish(Uri broker) : IAsyncDisposable
    {
        private static readonly BasicProperties Persistent = new() { Persistent = true };
        private readonly byte[] _body = new byte[64];
        private IConnection? _connection;
        private IChannel? _channel;

        public async Task WaitAsync(CancellationToken cancellationToken)
        {
            try
            {
                var channel = await ChannelAsync(cancellationToken);
                await channel.BasicPublishAsync("", ProbeQueue, mandatory: false, Persistent, _body, cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                await CloseAsync();
                throw;
            }
        }

        private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
        {
            if (_channel is { IsOpen: true } open)
            {
                return open;
            }

            await CloseAsync();
            _connection = await new ConnectionFactory { Uri = broker, AutomaticRecoveryEnabled = false, ClientProvidedName = "chaos stall probe" }
                .CreateConnectionAsync(cancellationToken);
            _channel = await _connection.CreateChannelAsync(new CreateChannelOptions(
                publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
            await _channel.QueueDeclareAsync(ProbeQueue, durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-max-length"] = 1 }, cancellationToken: cancellationToken);
            return _channel;
        }

        private async Task CloseAsync()
        {
            if (_channel is not null)
            {
                await _channel.DisposeAsync();
            }

            if (_connection is not null)
            {
                await _connection.DisposeAsync();
            }

            (_channel, _connection) = (null, null);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (_channel is { IsOpen: true } channel)
                {
                    await channel.QueueDeleteAsync(ProbeQueue);
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // The broker is gone already: the queue goes with the run's state.
            }

            await CloseAsync();
        }
    }

    /// <summary>
    /// <c>BEGIN IMMEDIATE</c>, then a rollback: the wait is for the lock every write of every Worker replica takes
    /// (to within SQLite's busy-wait sleeps, up to 100 ms).
    /// </summary>
    private sealed class WriteLockTaken(string path) : IAsyncDisposable
    {
        private readonly SqliteConnection _connection = new(new SqliteConnectionStringBuilder
        {
            DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = (int)WaitLimit.TotalSeconds,
        }.ToString());

        public Task WaitAsync(CancellationToken cancellationToken) => OnOwnThread(() =>
        {
            if (_connection.State != System.Data.ConnectionState.Open)
            {
                _connection.Open();
                // SQLite's own busy handler (sleeps of 1 ms growing to 100 ms), not Microsoft.Data.Sqlite's retries every 150 ms.
                using var wait = _connection.CreateCommand();
                wait.CommandText = $"PRAGMA busy_timeout = {(int)WaitLimit.TotalMilliseconds}";
                wait.ExecuteNonQuery();
            }

            using var transaction = _connection.BeginTransaction(deferred: false);
            transaction.Rollback();
        }, cancellationToken);

        public ValueTask DisposeAsync() => _connection.DisposeAsync();
    }

    /// <summary>
    /// A blocking wait on a thread of its own, not the pool's: two waits blocked for the seconds of a disk stall held two
    /// of the driver's pool threads on two cores, and its timers and the load's requests ran 0.9 s late until the pool
    /// grew (the first disk-stall run); the load would have charged that to the stack.
    /// </summary>
    private static Task OnOwnThread(Action wait, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(wait, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
