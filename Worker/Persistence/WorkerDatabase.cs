using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Worker.Jobs;

namespace Worker.Persistence;

/// <summary>
/// The Worker's SQLite file: jobs, the model registry, the outbox and the audit log live in one database so that a state change and
/// the message announcing it commit in one transaction. WAL journal: readers never block the writer, and a crashed
/// process loses no committed transaction. Every Worker replica opens the same file.
/// </summary>
public sealed class WorkerDatabase(IOptions<JobsOptions> options)
{
    // Each entry upgrades the schema by one version (PRAGMA user_version); never edit a shipped entry, add one.
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE IF NOT EXISTS jobs (
            id          TEXT PRIMARY KEY,
            model       TEXT NOT NULL,
            inputs      TEXT NOT NULL,
            status      TEXT NOT NULL,
            attempts    INTEGER NOT NULL DEFAULT 0,
            created_at  TEXT NOT NULL,
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
            body         BLOB NOT NULL,
            traceparent  TEXT NULL,
            job_id       TEXT NULL,
            created_at   TEXT NOT NULL,
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
            recorded_at  TEXT NOT NULL
        );
        CREATE INDEX ix_audit_log_job ON audit_log (job_id);
        """,
        """
        CREATE TABLE model_versions (
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
    ];

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = Path.GetFullPath(options.Value.DatabasePath),
        Pooling = true,
        DefaultTimeout = 30, // seconds a statement waits for a busy database (two replicas write to it)
    }.ToString();

    public string FilePath { get; } = Path.GetFullPath(options.Value.DatabasePath);

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
        // BEGIN IMMEDIATE takes the write lock first, so two replicas starting together migrate one after the other.
        await using var transaction = connection.BeginTransaction(deferred: false);
        var version = Convert.ToInt32(await ScalarAsync(connection, transaction, "PRAGMA user_version;", cancellationToken),
            System.Globalization.CultureInfo.InvariantCulture);
        for (var next = version; next < Migrations.Length; next++)
        {
            await ExecuteAsync(connection, transaction, Migrations[next], cancellationToken);
        }

        await ExecuteAsync(connection, transaction, $"PRAGMA user_version = {Migrations.Length};", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql,
        params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
