using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Worker.Jobs;

/// <summary>
/// Job state in SQLite (WAL journal: readers never block the writer, and a crashed process loses no committed
/// transaction). One short-lived pooled connection per operation keeps it safe for concurrent consumers.
/// </summary>
internal sealed class SqliteJobStore(IOptions<JobsOptions> options, TimeProvider clock) : IJobStore
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = Path.GetFullPath(options.Value.DatabasePath),
        Pooling = true,
        DefaultTimeout = 30, // seconds a statement waits for a busy database
    }.ToString();

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Value.DatabasePath))!);
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS jobs (
                id          TEXT PRIMARY KEY,
                owner       TEXT NOT NULL,
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
            """, cancellationToken);
    }

    public async Task AddAsync(Job job, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, """
            INSERT INTO jobs (id, owner, model, inputs, status, attempts, created_at, updated_at)
            VALUES ($id, $owner, $model, $inputs, $status, $attempts, $created, $updated)
            """, cancellationToken,
            ("$id", job.Id.ToString()), ("$owner", job.Owner), ("$model", job.Model), ("$inputs", job.Inputs.GetRawText()),
            ("$status", StatusText(job.Status)), ("$attempts", job.Attempts),
            ("$created", Timestamp(job.CreatedAt)), ("$updated", Timestamp(job.UpdatedAt)));
    }

    public async Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await FindAsync(connection, id, cancellationToken);
    }

    public async Task RemoveAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "DELETE FROM jobs WHERE id = $id", cancellationToken, ("$id", id.ToString()));
    }

    public async Task<Job?> TryStartAttemptAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var changed = await ExecuteAsync(connection, """
            UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = $now
            WHERE id = $id AND status NOT IN ('succeeded', 'failed')
            """, cancellationToken, ("$id", id.ToString()), ("$now", Now()));
        return changed == 1 ? await FindAsync(connection, id, cancellationToken) : null;
    }

    public async Task RequeueAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, """
            UPDATE jobs SET status = 'queued', updated_at = $now WHERE id = $id AND status = 'running'
            """, cancellationToken, ("$id", id.ToString()), ("$now", Now()));
    }

    public Task<bool> TrySucceedAsync(Guid id, JsonElement result, CancellationToken cancellationToken) =>
        FinishAsync(id, JobStatus.Succeeded, "result", result.GetRawText(), cancellationToken);

    public Task<bool> TryFailAsync(Guid id, ProblemDetails problem, CancellationToken cancellationToken) =>
        FinishAsync(id, JobStatus.Failed, "error", JsonSerializer.Serialize(problem), cancellationToken);

    private async Task<bool> FinishAsync(Guid id, JobStatus status, string column, string json, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var changed = await ExecuteAsync(connection, $"""
            UPDATE jobs SET status = $status, {column} = $json, updated_at = $now
            WHERE id = $id AND status NOT IN ('succeeded', 'failed')
            """, cancellationToken,
            ("$id", id.ToString()), ("$status", StatusText(status)), ("$json", json), ("$now", Now()));
        return changed == 1;
    }

    private static async Task<Job?> FindAsync(SqliteConnection connection, Guid id, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, owner, model, inputs, status, attempts, created_at, updated_at, result, error
            FROM jobs WHERE id = $id
            """;
        command.Parameters.AddWithValue("$id", id.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new Job(
            Guid.Parse(reader.GetString(0)),
            reader.GetString(1),
            reader.GetString(2),
            JsonElement.Parse(reader.GetString(3)),
            ParseStatus(reader.GetString(4)),
            reader.GetInt32(5),
            DateTimeOffset.Parse(reader.GetString(6), CultureInfo.InvariantCulture),
            DateTimeOffset.Parse(reader.GetString(7), CultureInfo.InvariantCulture),
            reader.IsDBNull(8) ? null : JsonElement.Parse(reader.GetString(8)),
            reader.IsDBNull(9) ? null : JsonSerializer.Deserialize<ProblemDetails>(reader.GetString(9)));
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, string sql,
        CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private string Now() => Timestamp(clock.GetUtcNow());

    private static string Timestamp(DateTimeOffset value) => value.ToString("O", CultureInfo.InvariantCulture);

    private static string StatusText(JobStatus status) => status.ToString().ToLowerInvariant();

    private static JobStatus ParseStatus(string text) => Enum.Parse<JobStatus>(text, ignoreCase: true);
}
