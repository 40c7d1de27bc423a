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

    private JobAdmissions? _admissions;

    private TemporaryJobStore(SqlDialect dialect, Func<SqlDialect> anotherConnectionPool, Func<ValueTask> cleanUp,
        MessagingOptions? messaging)
    {
        _cleanUp = cleanUp;
        _anotherConnectionPool = anotherConnectionPool;
        Settings = messaging ?? Messaging;
        Database = new WorkerDatabase(dialect);
        Outbox = new OutboxStore(Database, TimeProvider.System);
        Store = new JobStore(Database, Outbox, Options.Create(Settings), TimeProvider.System);
        Audit = new AuditLog(Database);
        Registry = new ModelRegistryStore(Database, Outbox, Options.Create(Settings), TimeProvider.System);
    }

    /// <summary>The messaging settings of this database's stores (<see cref="Messaging"/> unless the test gave its own).</summary>
    public MessagingOptions Settings { get; }

    public WorkerDatabase Database { get; }

    public OutboxStore Outbox { get; }

    public JobStore Store { get; }

    public AuditLog Audit { get; }

    public ModelRegistryStore Registry { get; }

    /// <summary>The group commit in front of <see cref="Store"/> that submissions go through (<see cref="AdmitWith"/> makes it).</summary>
    public JobAdmissions Admissions => _admissions ?? throw new InvalidOperationException("No admissions yet: call AdmitWith.");

    /// <summary>The admissions, publishing through <paramref name="publisher"/> (made once; later calls return the same).</summary>
    public JobAdmissions AdmitWith(IMessagePublisher publisher) => _admissions ??= new JobAdmissions(Store, Outbox, publisher);

    public static MessagingOptions Messaging { get; } = new();

    /// <summary>An empty database on <paramref name="provider"/>, migrated to <paramref name="schemaVersion"/> (default: the latest).</summary>
    public static async Task<TemporaryJobStore> CreateAsync(DatabaseProvider provider = DatabaseProvider.Sqlite, int? schemaVersion = null,
        MessagingOptions? messaging = null)
    {
        var temporary = await CreateEmptyAsync(provider, messaging);
        await temporary.Database.MigrateAsync(schemaVersion ?? WorkerDatabase.LatestVersion, TestContext.Current.CancellationToken);
        return temporary;
    }

    /// <summary>A database with no schema at all.</summary>
    public static async Task<TemporaryJobStore> CreateEmptyAsync(DatabaseProvider provider, MessagingOptions? messaging = null)
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
            }, messaging);
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
        }, messaging);
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
        return new JobStore(database, outbox, Options.Create(Settings), TimeProvider.System);
    }

    /// <summary>The queue message of <paramref name="job"/> alone, as the store writes it.</summary>
    public static OutboxMessage JobMessageFor(Job job) =>
        JobMessage.Alone(new QueuedJob(job.Id, null), Messaging.JobsQueue, job.CreatedAt);

    /// <summary>The ids of the jobs <paramref name="messages"/> queue, in order.</summary>
    public static IEnumerable<Guid> JobsIn(IEnumerable<OutboxMessage> messages) =>
        messages.SelectMany(message => JobMessage.TryParse(message.Body)!.Jobs.Select(job => job.Id));

    public async Task<Job> AddQueuedAsync(string model = "sentiment", string inputsJson = """["great"]""",
        string owner = "tester", string? idempotencyKey = null, int maxUnfinished = int.MaxValue - 1)
    {
        var job = Job.Queued(Guid.CreateVersion7(), owner, model, JsonElement.Parse(inputsJson), DateTimeOffset.UtcNow,
            idempotencyKey: idempotencyKey);
        var admission = await Store.AddAsync(job, inputsJson, maxUnfinished, TestContext.Current.CancellationToken);
        return admission.Job;
    }

    /// <summary>Every unsent outbox message, whatever its age (once the confirms of answered submissions are recorded).</summary>
    public async Task<IReadOnlyList<OutboxMessage>> PendingAsync()
    {
        if (_admissions is not null)
        {
            await _admissions.SentMarksRecordedAsync(TestContext.Current.CancellationToken);
        }

        return await Outbox.PendingAsync(DateTimeOffset.UtcNow.AddMinutes(1), 1000, TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_admissions is not null)
        {
            await _admissions.DisposeAsync();
        }

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
