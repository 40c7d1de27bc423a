using Microsoft.Extensions.Hosting;
using Worker.Persistence;

namespace Worker.Tests;

/// <summary>
/// A Worker on SQLite keeps threads for the calls that do not wait on the disk: its pool's minimum is raised so that
/// writers blocked in a stall of the disk (or on the write lock) do not leave reads of jobs waiting for the pool to grow.
/// </summary>
public sealed class SqliteThreadsTests
{
    [Fact]
    public void A_worker_on_sqlite_raises_the_thread_pools_minimum_and_a_lower_setting_never_lowers_it()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration["Database:Provider"] = "sqlite";

        builder.AddWorkerDatabase();

        var (workers, completionPorts) = Minimum();
        Assert.True(workers >= new DatabaseOptions().SqliteMinThreads, $"the pool's minimum is {workers}");
        PersistenceExtensions.ReserveThreadsForSqlite(0);
        Assert.Equal((workers, completionPorts), Minimum());
    }

    private static (int Workers, int CompletionPorts) Minimum()
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        return (workers, completionPorts);
    }
}
