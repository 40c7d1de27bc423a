using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Worker.Jobs;

namespace Worker.Tests;

/// <summary>A real SQLite job store in a file of its own, deleted afterwards.</summary>
internal sealed class TemporaryJobStore : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));

    private TemporaryJobStore(JobsOptions options) =>
        Store = new SqliteJobStore(Options.Create(options), TimeProvider.System);

    public SqliteJobStore Store { get; }

    public static async Task<TemporaryJobStore> CreateAsync(JobsOptions? options = null)
    {
        options ??= new JobsOptions();
        var temporary = new TemporaryJobStore(options);
        options.DatabasePath = Path.Combine(temporary._directory, "jobs.db");
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
