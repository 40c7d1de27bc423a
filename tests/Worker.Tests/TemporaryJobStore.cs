using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Worker.Audit;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Persistence;
using Worker.Registry;

namespace Worker.Tests;

/// <summary>The Worker's real SQLite database (jobs, registry, outbox, audit log) in a file of its own, deleted afterwards.</summary>
internal sealed class TemporaryJobStore : IAsyncDisposable
{
    private readonly string _directory;

    private TemporaryJobStore(string directory, JobsOptions options)
    {
        _directory = directory;
        Database = new WorkerDatabase(Options.Create(options));
        Outbox = new SqliteOutbox(Database, TimeProvider.System);
        Store = new SqliteJobStore(Database, Outbox, TimeProvider.System);
        Audit = new SqliteAuditLog(Database);
        Registry = new SqliteModelRegistryStore(Database, Outbox, Options.Create(Messaging), TimeProvider.System);
    }

    public WorkerDatabase Database { get; }

    public SqliteOutbox Outbox { get; }

    public SqliteJobStore Store { get; }

    public SqliteAuditLog Audit { get; }

    public SqliteModelRegistryStore Registry { get; }

    public static MessagingOptions Messaging { get; } = new();

    public static async Task<TemporaryJobStore> CreateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));
        var temporary = new TemporaryJobStore(directory, new JobsOptions { DatabasePath = Path.Combine(directory, "jobs.db") });
        await temporary.Store.InitializeAsync(TestContext.Current.CancellationToken);
        return temporary;
    }

    public static OutboxMessage JobMessageFor(Job job) => new(job.Id, string.Empty, Messaging.JobsQueue,
        OutboxRelay.JobMessageType, new JobMessage(job.Id).ToBytes(), null, job.Id, job.CreatedAt);

    public async Task<Job> AddQueuedAsync(string model = "sentiment", string inputsJson = """["great"]""",
        string owner = "tester", string? idempotencyKey = null)
    {
        var job = Job.Queued(Guid.CreateVersion7(), owner, model, JsonElement.Parse(inputsJson), DateTimeOffset.UtcNow,
            idempotencyKey: idempotencyKey);
        var admission = await Store.AddAsync(job, inputsJson, JobMessageFor(job), TestContext.Current.CancellationToken);
        return admission.Job;
    }

    /// <summary>Every unsent outbox message, whatever its age.</summary>
    public Task<IReadOnlyList<OutboxMessage>> PendingAsync() =>
        Outbox.PendingAsync(DateTimeOffset.UtcNow.AddMinutes(1), 1000, TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync()
    {
        Outbox.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
