using System.ComponentModel.DataAnnotations;

namespace Worker.Persistence;

/// <summary>Which database holds the Worker's state (configuration key <c>Database:Provider</c>).</summary>
public enum DatabaseProvider
{
    /// <summary>One SQLite file (<c>Jobs:DatabasePath</c>): nothing to install, every replica on one machine.</summary>
    Sqlite,

    /// <summary>PostgreSQL (connection string <c>workerdb</c>): replicas on any number of machines.</summary>
    Postgres,
}

/// <summary>Section <c>Database</c>.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    /// <summary>The connection string name of the PostgreSQL database (<c>ConnectionStrings:workerdb</c>).</summary>
    public const string ConnectionName = "workerdb";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// SQLite: how many pages (4 KiB each) the WAL file holds before the writer whose commit passes that size copies
    /// them into the database file (<c>PRAGMA wal_autocheckpoint</c>). That checkpoint runs in the committing writer's
    /// turn and syncs the disk twice, so the replica's writes wait for it: fewer, larger checkpoints hold them less
    /// often. 0 turns automatic checkpoints off (only for tests: the WAL would grow without bound).
    /// </summary>
    [Range(0, 1_000_000)]
    public int SqliteWalAutoCheckpoint { get; set; } = SqliteDialect.DefaultWalAutoCheckpoint;
}
