using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;
using Tests.Postgres;
using Worker.Audit;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Persistence;
using Worker.Registry;

namespace Worker.Tests;

/// <summary>
/// The Worker's real database (jobs, registry, outbox, audit log), deleted afterwards: a SQLite file of its own, or a
/// schema of its own on the test process's PostgreSQL server (<see cref="PostgresTestServer"/>).
/// </summary>
internal sealed class TemporaryJobStore : IAsyncDisposable
{
    private readonly Func<ValueTask> _cleanUp;
    private readonly Func<SqlDialect> _anotherConnectionPool;
    private readonly List<OutboxStore> _replicaOutboxes = [];

    private TemporaryJobStore(SqlDialect dialect, Func<SqlDialect> anotherConnectionPool, Func<ValueTask> cleanUp)
    {
        _cleanUp = cleanUp;
        _anotherConnectionPool = anotherConnectionPool;
        Database = new WorkerDatabase(dialect);
        Outbox = new OutboxStore(Database, TimeProvider.System);
        Store = new JobStore(Database, Outbox, Options.Create(Messaging), TimeProvider.System);
        Audit = new AuditLog(Database);
        Registry = new ModelRegistryStore(Database, Outbox, Options.Create(Messaging), TimeProvider.System);
        Admissions = new JobAdmissions(Store, Outbox);
    }

    public WorkerDatabase Database { get; }

    public OutboxStore Outbox { get; }

    public JobStore Store { get; }

    public AuditLog Audit { get; }

    public ModelRegistryStore Registry { get; }

    /// <summary>The group commit in front of <see cref="Store"/> that submissions go through.</summary>
    public JobAdmissions Admissions { get; }

    public static MessagingOptions Messaging { get; } = new();

    /// <summary>An empty database on <paramref name="provider"/>, migrated to <paramref name="schemaVersion"/> (default: the latest).</summary>
    public static async Task<TemporaryJobStore> CreateAsync(DatabaseProvider provider = DatabaseProvider.Sqlite, int? schemaVersion = null)
    {
        var temporary = await CreateEmptyAsync(provider);
        await temporary.Database.MigrateAsync(schemaVersion ?? WorkerDatabase.LatestVersion, TestContext.Current.CancellationToken);
        return temporary;
    }

    /// <summary>A database with no schema at all.</summary>
    public static async Task<TemporaryJobStore> CreateEmptyAsync(DatabaseProvider provider)
    {
        if (provider == DatabaseProvider.Postgres)
        {
            var server = await PostgresTestServer.SharedAsync();
            var (schema, connectionString) = await server.CreateSchemaAsync("worker");
            var dataSource = NpgsqlDataSource.Create(connectionString);
            var replicaSources = new List<NpgsqlDataSource>();
            return new TemporaryJobStore(new PostgresDialect(dataSource), () =>
            {
                var replicaSource = NpgsqlDataSource.Create(connectionString);
                replicaSources.Add(replicaSource);
                return new PostgresDialect(replicaSource);
            }, async () =>
            {
                foreach (var replicaSource in replicaSources)
                {
                    await replicaSource.DisposeAsync();
                }

                await dataSource.DisposeAsync();
                await server.ExecuteAsync($"DROP SCHEMA {schema} CASCADE");
            });
        }

        var directory = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));
        var path = Path.Combine(directory, "jobs.db");
        return new TemporaryJobStore(new SqliteDialect(path), () => new SqliteDialect(path), () =>
        {
            SqliteConnection.ClearAllPools();
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            return ValueTask.CompletedTask;
        });
    }

    /// <summary>
    /// The job store as another Worker replica sees the same database: its own connection pool (its own
    /// <see cref="NpgsqlDataSource"/> on PostgreSQL), nothing shared in process memory.
    /// </summary>
    public JobStore AnotherReplica()
    {
        var database = new WorkerDatabase(_anotherConnectionPool());
        var outbox = new OutboxStore(database, TimeProvider.System);
        _replicaOutboxes.Add(outbox);
        return new JobStore(database, outbox, Options.Create(Messaging), TimeProvider.System);
    }

    public static OutboxMessage JobMessageFor(Job job) => new(job.Id, string.Empty, Messaging.JobsQueue,
        OutboxRelay.JobMessageType, new JobMessage(job.Id).ToBytes(), null, job.Id, job.CreatedAt);

    public async Task<Job> AddQueuedAsync(string model = "sentiment", string inputsJson = """["great"]""",
        string owner = "tester", string? idempotencyKey = null, int maxUnfinished = int.MaxValue - 1)
    {
        var job = Job.Queued(Guid.CreateVersion7(), owner, model, JsonElement.Parse(inputsJson), DateTimeOffset.UtcNow,
            idempotencyKey: idempotencyKey);
        var admission = await Store.AddAsync(job, inputsJson, JobMessageFor(job), maxUnfinished, TestContext.Current.CancellationToken);
        return admission.Job;
    }

    /// <summary>Every unsent outbox message, whatever its age (once the confirms of answered submissions are recorded).</summary>
    public async Task<IReadOnlyList<OutboxMessage>> PendingAsync()
    {
        await Admissions.SentMarksRecordedAsync(TestContext.Current.CancellationToken);
        return await Outbox.PendingAsync(DateTimeOffset.UtcNow.AddMinutes(1), 1000, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await Admissions.DisposeAsync();
        await Audit.DisposeAsync();
        foreach (var replicaOutbox in _replicaOutboxes)
        {
            replicaOutbox.Dispose();
        }

        Outbox.Dispose();
        await _cleanUp();
    }
}

/// <summary>The providers every store contract test runs against.</summary>
public static class StoreProviders
{
    public static TheoryData<DatabaseProvider> All => new(DatabaseProvider.Sqlite, DatabaseProvider.Postgres);
}
