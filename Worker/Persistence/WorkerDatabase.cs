using System.Data;
using System.Data.Common;
using System.Globalization;

namespace Worker.Persistence;

/// <summary>
/// The Worker's database: jobs, the model registry, the outbox and the audit log live together so that a state
/// change and the message announcing it commit in one transaction. SQLite (one WAL file the replicas on a machine
/// share) or PostgreSQL (replicas anywhere); <see cref="SqlDialect"/> holds the few differences.
/// </summary>
public sealed class WorkerDatabase(SqlDialect dialect)
{
    // Each entry upgrades the schema by one version (recorded in schema_version); never edit a shipped entry, add one.
    // Tokens in braces are column types that differ by dialect (SqlDialect.Expand).
    internal static readonly string[] Migrations =
    [
        """
        CREATE TABLE IF NOT EXISTS jobs (
            id          {sortable_text} PRIMARY KEY,
            model       TEXT NOT NULL,
            inputs      TEXT NOT NULL,
            status      TEXT NOT NULL,
            attempts    INTEGER NOT NULL DEFAULT 0,
            created_at  {sortable_text} NOT NULL,
            updated_at  TEXT NOT NULL,
            result      TEXT NULL,
            error       TEXT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_jobs_status ON jobs (status);
        """,
        """
        ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
        ALTER TABLE jobs ADD COLUMN idempotency_key TEXT NULL;
        ALTER TABLE jobs ADD COLUMN request_hash TEXT NULL;
        ALTER TABLE jobs ADD COLUMN callback_url TEXT NULL;
        CREATE UNIQUE INDEX ux_jobs_owner_idempotency_key ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX ix_jobs_owner_id ON jobs (owner, id);
        CREATE TABLE outbox (
            id           TEXT PRIMARY KEY,
            exchange     TEXT NOT NULL,
            routing_key  TEXT NOT NULL,
            type         TEXT NOT NULL,
            body         {bytes} NOT NULL,
            traceparent  TEXT NULL,
            job_id       TEXT NULL,
            created_at   {sortable_text} NOT NULL,
            sent_at      TEXT NULL
        );
        CREATE INDEX ix_outbox_pending ON outbox (created_at) WHERE sent_at IS NULL;
        CREATE TABLE audit_log (
            event_id     TEXT PRIMARY KEY,
            type         TEXT NOT NULL,
            occurred_at  TEXT NOT NULL,
            source       TEXT NOT NULL,
            job_id       TEXT NULL,
            data         TEXT NOT NULL,
            recorded_at  {sortable_text} NOT NULL
        );
        CREATE INDEX ix_audit_log_job ON audit_log (job_id);
        """,
        """
        CREATE TABLE model_versions (
            {insertion_order}
            name             TEXT NOT NULL,
            version          TEXT NOT NULL,
            input_kind       TEXT NOT NULL,
            labels           TEXT NOT NULL,
            metrics          TEXT NOT NULL,
            artifact_sha256  TEXT NOT NULL,
            description      TEXT NOT NULL,
            created_at       TEXT NULL,
            registered_at    TEXT NOT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE active_model_versions (
            name          TEXT PRIMARY KEY,
            version       TEXT NOT NULL,
            activated_at  TEXT NOT NULL,
            FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        );
        CREATE INDEX ix_audit_log_type ON audit_log (type, recorded_at);
        """,
        """
        ALTER TABLE outbox ADD COLUMN claimed_until {sortable_text} NULL;
        """,
        """
        ALTER TABLE active_model_versions ADD COLUMN activated_by_service TEXT NULL;
        ALTER TABLE active_model_versions ADD COLUMN activated_by_user TEXT NULL;
        """,
        // The quota counts an owner's unfinished jobs; retention finds finished jobs by age, and their audit rows.
        """
        CREATE INDEX ix_jobs_owner_status ON jobs (owner, status);
        CREATE INDEX ix_jobs_status_updated ON jobs (status, updated_at);
        CREATE INDEX ix_outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
        """,
        """
        CREATE TABLE queue_switches (
            queue       TEXT PRIMARY KEY,
            paused      INTEGER NOT NULL,
            changed_at  TEXT NOT NULL,
            changed_by  TEXT NOT NULL
        );
        """,
        // An owner's jobs are listed newest first, all or of one status: indexes in that order read one page, where
        // (owner, status) alone made every page sort all of an owner's jobs of that status (68 ms a page at 30,000
        // jobs on PostgreSQL). (owner, status) and (owner, id) are prefixes or no use now, and (status) is a prefix
        // of (status, updated_at): each index fewer is one insert fewer at every change of a job's status.
        """
        DROP INDEX ix_jobs_status;
        DROP INDEX ix_jobs_owner_id;
        DROP INDEX ix_jobs_owner_status;
        CREATE INDEX ix_jobs_owner_created ON jobs (owner, created_at, id);
        CREATE INDEX ix_jobs_owner_status_created ON jobs (owner, status, created_at, id);
        """,
    ];

    public SqlDialect Dialect { get; } = dialect;

    /// <summary>The version this build's schema has.</summary>
    public static int LatestVersion => Migrations.Length;

    /// <summary>
    /// Brings the schema to <see cref="LatestVersion"/>, in one transaction under the dialect's migration lock: of
    /// replicas starting together one migrates, the others wait and then find nothing to do. Creates the database
    /// first when there is none (<see cref="SqlDialect.CreateIfMissingAsync"/>); true if it did.
    /// </summary>
    public Task<bool> MigrateAsync(CancellationToken cancellationToken) => MigrateAsync(LatestVersion, cancellationToken);

    /// <summary>Migrates to <paramref name="targetVersion"/> only (tests build a previous version's database this way).</summary>
    public async Task<bool> MigrateAsync(int targetVersion, CancellationToken cancellationToken)
    {
        var created = await Dialect.CreateIfMissingAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        if (Dialect.Provider == DatabaseProvider.Sqlite)
        {
            await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
        }

        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        if (Dialect.MigrationLock is { } takeLock)
        {
            await ExecuteAsync(connection, transaction, takeLock, cancellationToken);
        }

        await ExecuteAsync(connection, transaction, """
            CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)
            """, cancellationToken);
        var version = Convert.ToInt32(
            await ScalarAsync(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_version", cancellationToken),
            CultureInfo.InvariantCulture);
        if (version == 0 && Dialect.LegacyVersionQuery is { } legacyQuery)
        {
            // A database from before schema_version counted its migrations in PRAGMA user_version.
            version = Convert.ToInt32(await ScalarAsync(connection, transaction, legacyQuery, cancellationToken),
                CultureInfo.InvariantCulture);
            for (var applied = 1; applied <= version; applied++)
            {
                await RecordVersionAsync(connection, transaction, applied, cancellationToken);
            }
        }

        for (var next = version; next < targetVersion; next++)
        {
            await ExecuteAsync(connection, transaction, Dialect.Expand(Migrations[next]), cancellationToken);
            await RecordVersionAsync(connection, transaction, next + 1, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    /// <summary>The schema version the database has now (0 for an empty one).</summary>
    public async Task<int> SchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return Convert.ToInt32(await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            cancellationToken), CultureInfo.InvariantCulture);
    }

    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => Dialect.OpenAsync(cancellationToken);

    public ValueTask<WriteTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Dialect.BeginWriteAsync(connection, cancellationToken);

    /// <summary>
    /// This process's turn to write, for a statement that writes outside a transaction on <paramref name="connection"/>
    /// (<see cref="SqlDialect.WaitToWriteAsync(DbConnection?, CancellationToken)"/>).
    /// </summary>
    public ValueTask<WriteTurn> WaitToWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Dialect.WaitToWriteAsync(connection, cancellationToken);

    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<object?> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>A command with <c>@name</c> parameters; a null value is a text null (every nullable column is text).</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql,
        params (string Name, object? Value)[] parameters)
    {
        SqliteDialect.CheckWriteTurn(connection, sql);
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(Parameter(command.CreateParameter(), name, value));
        }

        return command;
    }

    /// <summary>Fills in a parameter; a null value is a text null (every nullable column is text).</summary>
    public static DbParameter Parameter(DbParameter parameter, string name, object? value)
    {
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        if (value is null)
        {
            parameter.DbType = DbType.String; // PostgreSQL cannot infer the type of an untyped null
        }

        return parameter;
    }

    /// <summary>Fixed-width UTC timestamps compare correctly as text (in PostgreSQL, with the "C" collation).</summary>
    public static string Timestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTimestamp(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static Task<int> RecordVersionAsync(DbConnection connection, DbTransaction transaction, int version,
        CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "INSERT INTO schema_version (version, applied_at) VALUES (@version, @now)",
            cancellationToken, ("@version", version), ("@now", Timestamp(DateTimeOffset.UtcNow)));
}
