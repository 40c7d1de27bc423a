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
    /// With SQLite, the thread pool's minimum of worker threads (0: the runtime's, one per core). Every SQLite call
    /// holds its thread until it returns (SQLite has no asynchronous I/O), and a write waiting for the disk or for the
    /// write lock holds one for as long: when the disk stalls, each writer of the replica (admissions, job outcomes,
    /// the outbox relay, the consumers) holds one, and with two cores' worth of threads nothing else ran until the pool
    /// grew, a thread or two a second. Reads of jobs waited up to 2.6 s through a 4 s stall (docs/reliability.md,
    /// "The disk stalled on purpose"). Threads up to the minimum start at once when work waits, and cost nothing until then.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, 1024)]
    public int SqliteMinThreads { get; set; } = 64;
}
