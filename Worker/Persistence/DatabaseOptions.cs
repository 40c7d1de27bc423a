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
}
