namespace Worker.Persistence;

/// <summary>
/// Migrates the schema before the HTTP API, the consumers or the relay can touch it (hosted services start in
/// order, before the server). Replicas starting together queue on the dialect's migration lock; one migrates.
/// </summary>
internal sealed partial class DatabaseMigrator(WorkerDatabase database, ILogger<DatabaseMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await database.MigrateAsync(cancellationToken))
        {
            LogCreated(logger, database.Dialect.Provider);
        }

        LogMigrated(logger, database.Dialect.Provider, WorkerDatabase.LatestVersion);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker database ({Provider}) created: there was none.")]
    private static partial void LogCreated(ILogger logger, DatabaseProvider provider);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker database ({Provider}) at schema version {Version}.")]
    private static partial void LogMigrated(ILogger logger, DatabaseProvider provider, int version);
}
