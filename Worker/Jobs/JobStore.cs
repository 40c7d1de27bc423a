using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Worker.Messaging.Outbox;
using Worker.Persistence;

namespace Worker.Jobs;

/// <summary>
/// Job state in the Worker's database (<see cref="WorkerDatabase"/>, SQLite or PostgreSQL). One short-lived pooled
/// connection per operation; every transition is a conditional UPDATE, so any number of consumers in any number of
/// Worker processes record each outcome once.
/// </summary>
internal sealed class JobStore(WorkerDatabase database, IOutbox outbox, TimeProvider clock) : IJobStore
{
    private const string Columns =
        "id, owner, model, inputs, status, attempts, created_at, updated_at, result, error, callback_url, idempotency_key";

    public Task InitializeAsync(CancellationToken cancellationToken) => database.MigrateAsync(cancellationToken);

    public async Task<JobAdmission> AddAsync(Job job, string requestHash, OutboxMessage message, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // The unique (owner, idempotency_key) index decides between concurrent submissions of one key: the loser's
        // insert does nothing (in PostgreSQL after waiting for the winner's commit) and it reads the winner's job.
        var inserted = await WorkerDatabase.ExecuteAsync(connection, transaction, """
            INSERT INTO jobs (id, owner, model, inputs, status, attempts, created_at, updated_at, callback_url,
                              idempotency_key, request_hash)
            VALUES (@id, @owner, @model, @inputs, @status, @attempts, @created, @updated, @callback, @key, @hash)
            ON CONFLICT DO NOTHING
            """, cancellationToken,
            ("@id", job.Id.ToString()), ("@owner", job.Owner), ("@model", job.Model), ("@inputs", job.Inputs.GetRawText()),
            ("@status", StatusText(job.Status)), ("@attempts", job.Attempts),
            ("@created", Timestamp(job.CreatedAt)), ("@updated", Timestamp(job.UpdatedAt)),
            ("@callback", job.CallbackUrl), ("@key", job.IdempotencyKey), ("@hash", requestHash));
        if (inserted == 0 && job.IdempotencyKey is not null)
        {
            await using var existing = WorkerDatabase.Command(connection, transaction, $"""
                SELECT {Columns}, request_hash FROM jobs WHERE owner = @owner AND idempotency_key = @key
                """, ("@owner", job.Owner), ("@key", job.IdempotencyKey));
            await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return new JobAdmission(Read(reader), Created: false, SameRequest: reader.GetString(12) == requestHash);
            }
        }

        if (inserted == 0)
        {
            throw new InvalidOperationException($"Job {job.Id} exists already.");
        }

        await OutboxStore.AddAsync(connection, transaction, message, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new JobAdmission(job, Created: true, SameRequest: true);
    }

    public async Task<Job?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await FindAsync(connection, id, cancellationToken);
    }

    public async Task<JobPage> ListAsync(string owner, JobStatus? status, int pageSize, string? pageToken,
        CancellationToken cancellationToken)
    {
        // Keyset paging on (created_at, id): a page never shifts when new jobs arrive. (UUIDv7 ids alone are
        // ordered only to the millisecond.)
        var after = PageToken.TryParse(pageToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, $"""
            SELECT {Columns} FROM jobs
            WHERE owner = @owner AND (@status IS NULL OR status = @status)
              AND (@after_created IS NULL OR created_at < @after_created OR (created_at = @after_created AND id < @after_id))
            ORDER BY created_at DESC, id DESC LIMIT @limit
            """, ("@owner", owner), ("@status", status is { } s ? StatusText(s) : null),
            ("@after_created", after?.CreatedAt), ("@after_id", after?.Id), ("@limit", pageSize + 1));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var jobs = new List<Job>();
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add(Read(reader));
        }

        var more = jobs.Count > pageSize;
        if (more)
        {
            jobs.RemoveAt(jobs.Count - 1);
        }

        return new JobPage(jobs, more ? PageToken.For(Timestamp(jobs[^1].CreatedAt), jobs[^1].Id) : null);
    }

    public async Task RemoveAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await WorkerDatabase.ExecuteAsync(connection, transaction, "DELETE FROM outbox WHERE job_id = @id AND sent_at IS NULL",
            cancellationToken, ("@id", id.ToString()));
        await WorkerDatabase.ExecuteAsync(connection, transaction, "DELETE FROM jobs WHERE id = @id",
            cancellationToken, ("@id", id.ToString()));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<Job?> TryStartAttemptAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var changed = await WorkerDatabase.ExecuteAsync(connection, null, """
            UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = @now
            WHERE id = @id AND status NOT IN ('succeeded', 'failed')
            """, cancellationToken, ("@id", id.ToString()), ("@now", Now()));
        return changed == 1 ? await FindAsync(connection, id, cancellationToken) : null;
    }

    public async Task RequeueAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await WorkerDatabase.ExecuteAsync(connection, null, """
            UPDATE jobs SET status = 'queued', updated_at = @now WHERE id = @id AND status = 'running'
            """, cancellationToken, ("@id", id.ToString()), ("@now", Now()));
    }

    public async Task<bool> TryReviveAsync(Guid id, OutboxMessage message, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var changed = await WorkerDatabase.ExecuteAsync(connection, transaction, """
            UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, updated_at = @now WHERE id = @id AND status = 'failed'
            """, cancellationToken, ("@id", id.ToString()), ("@now", Now()));
        if (changed == 1)
        {
            await OutboxStore.AddAsync(connection, transaction, message, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return changed == 1;
    }

    public Task<bool> TrySucceedAsync(Guid id, JsonElement result, OutboxMessage? announcement, CancellationToken cancellationToken) =>
        FinishAsync(id, JobStatus.Succeeded, "result", result.GetRawText(), announcement, cancellationToken);

    public Task<bool> TryFailAsync(Guid id, ProblemDetails problem, OutboxMessage? announcement, CancellationToken cancellationToken) =>
        FinishAsync(id, JobStatus.Failed, "error", JsonSerializer.Serialize(problem), announcement, cancellationToken);

    private async Task<bool> FinishAsync(Guid id, JobStatus status, string column, string json, OutboxMessage? announcement,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var changed = await WorkerDatabase.ExecuteAsync(connection, transaction, $"""
            UPDATE jobs SET status = @status, {column} = @json, updated_at = @now
            WHERE id = @id AND status NOT IN ('succeeded', 'failed')
            """, cancellationToken,
            ("@id", id.ToString()), ("@status", StatusText(status)), ("@json", json), ("@now", Now()));
        // Only the recording that changed the job announces it: a redelivery records nothing and says nothing.
        if (changed == 1 && announcement is not null)
        {
            await OutboxStore.AddAsync(connection, transaction, announcement, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        if (changed == 1 && announcement is not null)
        {
            outbox.Notify();
        }

        return changed == 1;
    }

    private static async Task<Job?> FindAsync(DbConnection connection, Guid id, CancellationToken cancellationToken)
    {
        await using var command = WorkerDatabase.Command(connection, null, $"SELECT {Columns} FROM jobs WHERE id = @id",
            ("@id", id.ToString()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static Job Read(DbDataReader reader) => new(
        Guid.Parse(reader.GetString(0)),
        reader.GetString(1),
        reader.GetString(2),
        JsonElement.Parse(reader.GetString(3)),
        ParseStatus(reader.GetString(4)),
        reader.GetInt32(5),
        DateTimeOffset.Parse(reader.GetString(6), CultureInfo.InvariantCulture),
        DateTimeOffset.Parse(reader.GetString(7), CultureInfo.InvariantCulture),
        reader.IsDBNull(8) ? null : JsonElement.Parse(reader.GetString(8)),
        reader.IsDBNull(9) ? null : JsonSerializer.Deserialize<ProblemDetails>(reader.GetString(9)),
        reader.IsDBNull(10) ? null : reader.GetString(10),
        reader.IsDBNull(11) ? null : reader.GetString(11));

    private string Now() => Timestamp(clock.GetUtcNow());

    private static string Timestamp(DateTimeOffset value) => WorkerDatabase.Timestamp(value);

    private static string StatusText(JobStatus status) => status.ToString().ToLowerInvariant();

    private static JobStatus ParseStatus(string text) => Enum.Parse<JobStatus>(text, ignoreCase: true);
}

/// <summary>Where the next page starts: the last job's creation time and id, opaque to clients.</summary>
internal sealed record PageToken(string CreatedAt, string Id)
{
    public static string For(string createdAt, Guid id) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{createdAt}|{id}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static PageToken? TryParse(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        try
        {
            var padded = token.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var parts = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split('|');
            return parts.Length == 2 && Guid.TryParse(parts[1], out var id)
                   && DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _)
                ? new PageToken(parts[0], id.ToString())
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
