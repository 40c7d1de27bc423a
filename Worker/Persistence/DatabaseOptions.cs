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
    /// often. At least 1: SQLite's 0 (no automatic checkpoints) would let the WAL grow without bound, since nothing
    /// else checkpoints it.
    /// </summary>
    [Range(1, 1_000_000)]
    public int SqliteWalAutoCheckpoint { get; set; } = SqliteDialect.DefaultWalAutoCheckpoint;
}
