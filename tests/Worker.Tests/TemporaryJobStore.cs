using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Worker.Jobs;

namespace Worker.Tests;

/// <summary>A real SQLite job store in a file of its own, deleted afterwards.</summary>
internal sealed class TemporaryJobStore : IAsyncDisposable
{
    private readonly string _directory;

    private TemporaryJobStore(string directory, JobsOptions options)
    {
        _directory = directory;
        Store = new SqliteJobStore(Options.Create(options), TimeProvider.System);
    }

    public SqliteJobStore Store { get; }

    public static async Task<TemporaryJobStore> CreateAsync(JobsOptions? options = null)
    {
        options ??= new JobsOptions();
        // The path is set before the store exists: the store fixes its connection string when it is made.
        var directory = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));
        options.DatabasePath = Path.Combine(directory, "jobs.db");
        var temporary = new TemporaryJobStore(directory, options);
        await temporary.Store.InitializeAsync(TestContext.Current.CancellationToken);
        return temporary;
    }

    public async Task<Job> AddQueuedAsync(string model = "sentiment", string inputsJson = """["great"]""")
    {
        var job = Job.Queued(Guid.CreateVersion7(), "tester", model, JsonElement.Parse(inputsJson), DateTimeOffset.UtcNow);
        await Store.AddAsync(job, TestContext.Current.CancellationToken);
        return job;
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
