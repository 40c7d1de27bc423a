using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Worker.Persistence;

namespace Worker.Tests;

/// <summary>
/// What every SQLite connection of the Worker runs with, however often the pool hands it out again: commits synced at
/// checkpoints only (WAL mode, <c>synchronous = NORMAL</c>), and a checkpoint once the WAL holds
/// <see cref="DatabaseOptions.SqliteWalAutoCheckpoint"/> pages (4,000 unless configured).
/// </summary>
public sealed class SqliteSettingsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Theory]
    [InlineData(null, 4000L)]
    [InlineData(1000, 1000L)]
    public async Task Every_connection_checkpoints_at_the_configured_size_and_syncs_only_then(int? pages, long expected)
    {
        var path = Path.Combine(_folder, $"jobs-{pages}.db");
        var dialect = pages is null ? new SqliteDialect(path) : new SqliteDialect(path, pages.Value);
        await new WorkerDatabase(dialect).MigrateAsync(Token);

        for (var open = 0; open < 2; open++) // the second time, the pool's connection, prepared once
        {
            await using var connection = await dialect.OpenAsync(Token);
            Assert.Equal(expected, await WorkerDatabase.ScalarAsync(connection, null, "PRAGMA wal_autocheckpoint", Token));
            Assert.Equal(1L, await WorkerDatabase.ScalarAsync(connection, null, "PRAGMA synchronous", Token)); // NORMAL
            Assert.Equal("wal", await WorkerDatabase.ScalarAsync(connection, null, "PRAGMA journal_mode", Token));
        }
    }

    [Fact]
    public async Task The_configured_size_reaches_the_dialect_and_a_size_out_of_range_stops_the_start()
    {
        using var configured = Host(("Database:SqliteWalAutoCheckpoint", "2500"));
        var dialect = configured.Services.GetRequiredService<SqlDialect>();
        await using (var connection = await dialect.OpenAsync(Token))
        {
            Assert.Equal(2500L, await WorkerDatabase.ScalarAsync(connection, null, "PRAGMA wal_autocheckpoint", Token));
        }

        foreach (var outOfRange in new[] { "-1", "0" }) // 0 is SQLite's "never": the WAL would grow without bound
        {
            using var refused = Host(("Database:SqliteWalAutoCheckpoint", outOfRange));
            Assert.ThrowsAny<Microsoft.Extensions.Options.OptionsValidationException>(
                () => refused.Services.GetRequiredService<SqlDialect>());
        }
    }

    private IHost Host(params (string Key, string Value)[] settings)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))
            .Append(KeyValuePair.Create("Jobs:DatabasePath", (string?)Path.Combine(_folder, $"host-{Guid.NewGuid():N}.db"))));
        builder.AddWorkerDatabase();
        return builder.Build();
    }
}
