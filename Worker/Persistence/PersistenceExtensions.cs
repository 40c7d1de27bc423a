using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Worker.Audit;
using Worker.Jobs;
using Worker.Messaging.Outbox;
using Worker.Registry;

namespace Worker.Persistence;

public static class PersistenceExtensions
{
    /// <summary>
    /// The Worker's database on the configured provider (<c>Database:Provider</c>): jobs, model registry, outbox and
    /// audit log share it (one transaction for a change and its message). PostgreSQL comes through Aspire.Npgsql
    /// (connection string <c>workerdb</c>: pooling, health check, tracing and metrics). The schema is migrated
    /// before anything else starts.
    /// </summary>
    public static IHostApplicationBuilder AddWorkerDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<DatabaseOptions>(DatabaseOptions.SectionName);
        var provider = builder.Configuration.GetSection(DatabaseOptions.SectionName)
            .GetValue(nameof(DatabaseOptions.Provider), DatabaseProvider.Sqlite);
        if (provider == DatabaseProvider.Postgres)
        {
            builder.AddNpgsqlDataSource(DatabaseOptions.ConnectionName, configureDataSourceBuilder: ConfigurePostgres);
            builder.Services.AddSingleton<SqlDialect, PostgresDialect>();
        }
        else
        {
            builder.Services.AddSingleton<SqlDialect>(services => new SqliteDialect(
                services.GetRequiredService<IOptions<JobsOptions>>().Value.DatabasePath,
                services.GetRequiredService<IOptions<DatabaseOptions>>().Value.SqliteWalAutoCheckpoint));
        }

        builder.Services.AddSingleton<WorkerDatabase>();
        builder.Services.AddSingleton<IOutbox, OutboxStore>();
        builder.Services.AddSingleton<IJobStore, JobStore>();
        builder.Services.AddSingleton<IAuditLog, AuditLog>();
        builder.Services.AddSingleton<IModelRegistryStore, ModelRegistryStore>();
        builder.Services.AddHostedService<DatabaseMigrator>();
        return builder;
    }

    /// <summary>
    /// Per-statement costs the jobs profiles showed (docs/performance.md, "PostgreSQL's jobs profile"; and
    /// docs/performance-history.md, "Statements of one shape"). A pooled connection is not reset with <c>DISCARD ALL</c> when it goes back to the pool: the
    /// Worker keeps no session state of its own (no temporary tables or settings; its advisory locks are per
    /// transaction), and the reset was four statements per job. The statements it runs often are prepared on each
    /// connection (Npgsql's automatic preparation): each has one text whatever its batch's size
    /// (<see cref="SqlBuilder"/>), so the server parses and plans it once per connection. A statement is traced only
    /// inside a trace: the group-committed batches and the relay's and sweeper's polls run outside any request, and
    /// made a one-span trace of every statement (as did each physical connection open, which is not traced at all).
    /// </summary>
    private static void ConfigurePostgres(NpgsqlDataSourceBuilder dataSource)
    {
        dataSource.ConnectionStringBuilder.NoResetOnClose = true;
        dataSource.ConnectionStringBuilder.MaxAutoPrepare = 64;
        dataSource.ConnectionStringBuilder.AutoPrepareMinUsages = 3;
        dataSource.ConfigureTracing(tracing => tracing
            .ConfigureCommandFilter(_ => Activity.Current is not null)
            .ConfigureBatchFilter(_ => Activity.Current is not null)
            .EnablePhysicalOpenTracing(false));
    }
}
