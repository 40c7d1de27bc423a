using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Worker.Events;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Persistence;

namespace Worker.Jobs;

/// <summary>
/// Job state in the Worker's database (<see cref="WorkerDatabase"/>, SQLite or PostgreSQL). One short-lived pooled
/// connection per operation; every transition is a conditional UPDATE, so any number of consumers in any number of
/// Worker processes record each outcome once.
/// </summary>
internal sealed class JobStore(WorkerDatabase database, IOutbox outbox, IOptions<MessagingOptions> messaging, TimeProvider clock)
    : IJobStore
{
    private const string Columns =
        "id, owner, model, inputs, status, attempts, created_at, updated_at, result, error, callback_url, idempotency_key";

    public Task InitializeAsync(CancellationToken cancellationToken) => database.MigrateAsync(cancellationToken);

    public async Task<JobAdmission> AddAsync(Job job, string requestHash, int maxUnfinished, CancellationToken cancellationToken) =>
        (await AddAsync([new JobToAdmit(job, requestHash, maxUnfinished)], cancellationToken))[0];

    public async Task<IReadOnlyList<JobAdmission>> AddAsync(IReadOnlyList<JobToAdmit> jobs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var owners = jobs.Select(admit => admit.Job.Owner).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        // The usual batch (new jobs, within quota) is one round trip before the commit on PostgreSQL: the statements
        // below go together (SqlBuilder.ReadTogetherAsync), each seeing the ones before it in the transaction.
        var statements = new List<SqlBuilder>();
        if (database.Dialect.OwnerLock is { } ownerLock)
        {
            // Each owner's quota is counted under their lock; taken in one order so two batches never deadlock.
            statements.AddRange(owners.Select(owner => new SqlBuilder(ownerLock).With("@owner", owner)));
        }

        // One multi-row INSERT for the whole batch. The unique (owner, idempotency_key) index decides between
        // concurrent submissions of one key: the loser's row is not inserted (in PostgreSQL after waiting for the
        // winner's commit; within one batch, the first row wins) and it reads the winner's job.
        var insert = new SqlBuilder("""
            INSERT INTO jobs (id, owner, model, inputs, status, attempts, created_at, updated_at, callback_url,
                              idempotency_key, request_hash)
            SELECT * FROM
            """).Rows([.. jobs.Select(admit => new object?[]
            {
                admit.Job.Id.ToString(), admit.Job.Owner, admit.Job.Model, admit.Job.Inputs.GetRawText(),
                StatusText(admit.Job.Status), admit.Job.Attempts, Timestamp(admit.Job.CreatedAt),
                Timestamp(admit.Job.UpdatedAt), admit.Job.CallbackUrl, admit.Job.IdempotencyKey, admit.RequestHash,
            })]);
        statements.Add(insert.Append(" WHERE true ON CONFLICT DO NOTHING RETURNING id"));
        // Counted after the insert, under the owner's lock: the new jobs are included and no concurrent submission of
        // the owner is between the count and the commit. (The limit only bounds the scan.)
        statements.AddRange(owners.Select(owner => CountUnfinished(owner,
            (int)Math.Min((long)jobs.Where(admit => admit.Job.Owner == owner).Min(admit => admit.MaxUnfinished)
                          + jobs.Count, int.MaxValue))));
        // The queue messages of the batch, as if every job is admitted (the usual case); written again below if not.
        var messages = MessagesFor(jobs);
        statements.Add(OutboxStore.Insert(messages));
        var results = await SqlBuilder.ReadTogetherAsync(connection, transaction, statements, cancellationToken);
        var locks = statements.Count - owners.Count - 2; // the results: locks, insert, counts, messages
        var inserted = results[locks].Select(id => (string)id!).ToHashSet(StringComparer.Ordinal);
        var unfinished = owners.Select((owner, i) => (Owner: owner,
                Count: Convert.ToInt64(results[locks + 1 + i][0], CultureInfo.InvariantCulture)))
            .ToDictionary(count => count.Owner, count => count.Count, StringComparer.Ordinal);

        var admissions = new JobAdmission[jobs.Count];
        for (var i = 0; i < jobs.Count; i++)
        {
            var (job, requestHash, _, _) = jobs[i];
            if (inserted.Contains(job.Id.ToString()))
            {
                admissions[i] = new JobAdmission(job, Created: true, SameRequest: true);
                continue;
            }

            if (job.IdempotencyKey is not null)
            {
                await using var existing = WorkerDatabase.Command(connection, transaction, $"""
                    SELECT {Columns}, request_hash FROM jobs WHERE owner = @owner AND idempotency_key = @key
                    """, ("@owner", job.Owner), ("@key", job.IdempotencyKey));
                await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    admissions[i] = new JobAdmission(Read(reader), Created: false, SameRequest: reader.GetString(12) == requestHash);
                    continue;
                }
            }

            throw new InvalidOperationException($"Job {job.Id} exists already.");
        }

        await RefuseOverQuotaAsync(connection, transaction, jobs, admissions, owners, unfinished, cancellationToken);
        var admitted = jobs.Where((_, i) => admissions[i].Created).ToList();
        var written = results[^1];
        if (admitted.Count < jobs.Count)
        {
            // Some were not admitted (a repeated idempotency key, over quota): the messages name only those that were.
            await OutboxStore.DeleteAsync(connection, transaction, [.. written.Select(id => Guid.Parse((string)id!))],
                cancellationToken);
            messages = MessagesFor(admitted);
            await OutboxStore.AddAsync(connection, transaction, messages, cancellationToken);
        }
        else if (written.Count < messages.Count)
        {
            throw new InvalidOperationException("A queue message of this batch exists already.");
        }

        await transaction.CommitAsync(cancellationToken);
        // The admitted jobs, in order, fill the messages in order (JobMessage.For).
        var perMessage = JobMessage.PerMessage(messaging.Value.MaxJobsPerMessage);
        var queued = 0;
        return [.. admissions.Select(admission => admission.Created ? admission with { Message = messages[queued++ / perMessage] } : admission)];
    }

    private IReadOnlyList<OutboxMessage> MessagesFor(IReadOnlyList<JobToAdmit> jobs) =>
        JobMessage.For([.. jobs.Select(admit => new QueuedJob(admit.Job.Id, admit.TraceParent))], messaging.Value.JobsQueue,
            messaging.Value.MaxJobsPerMessage, clock.GetUtcNow());

    /// <summary>
    /// Jobs of the batch beyond an owner's quota (the last ones) are deleted again and answered over quota (their
    /// queue messages are written again by the caller). A repeated idempotency key was answered above, quota or not.
    /// </summary>
    private static async Task RefuseOverQuotaAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyList<JobToAdmit> jobs, JobAdmission[] admissions, IReadOnlyList<string> owners,
        Dictionary<string, long> unfinished, CancellationToken cancellationToken)
    {
        foreach (var owner in owners)
        {
            var created = Enumerable.Range(0, jobs.Count)
                .Where(i => admissions[i].Created && jobs[i].Job.Owner == owner).ToList();
            if (created.Count == 0)
            {
                continue;
            }

            var maxUnfinished = created.Min(i => jobs[i].MaxUnfinished);
            var excess = (int)Math.Min(created.Count, unfinished[owner] - maxUnfinished);
            foreach (var i in created.TakeLast(Math.Max(excess, 0)))
            {
                await WorkerDatabase.ExecuteAsync(connection, transaction, "DELETE FROM jobs WHERE id = @id",
                    cancellationToken, ("@id", jobs[i].Job.Id.ToString()));
                admissions[i] = new JobAdmission(jobs[i].Job, Created: false, SameRequest: true, OverQuota: true);
            }
        }
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
        await using var command = ListStatement(owner, status, after, pageSize + 1).Build(connection, null);
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

    /// <summary>
    /// One page of an owner's jobs, newest first. Each condition is in the statement only when it applies, so that both
    /// databases read the page from <c>ix_jobs_owner_created</c> or <c>ix_jobs_owner_status_created</c> in order: a
    /// condition like <c>(@status IS NULL OR status = @status)</c> keeps SQLite, which plans a statement before its
    /// values are known, from using either.
    /// </summary>
    internal static SqlBuilder ListStatement(string owner, JobStatus? status, PageToken? after, int limit)
    {
        var list = new SqlBuilder($"SELECT {Columns} FROM jobs WHERE owner = ");
        list.Append(list.Parameter(owner));
        if (status is { } s)
        {
            list.Append(" AND status = ").Append(list.Parameter(StatusText(s)));
        }

        if (after is { } token)
        {
            list.Append(" AND (created_at, id) < ").List([token.CreatedAt, token.Id]);
        }

        return list.Append(" ORDER BY created_at DESC, id DESC LIMIT ").Append(list.Parameter(limit));
    }

    public async Task RemoveAsync(IReadOnlyCollection<Guid> ids, Guid messageId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await WorkerDatabase.ExecuteAsync(connection, transaction, "DELETE FROM outbox WHERE id = @id AND sent_at IS NULL",
            cancellationToken, ("@id", messageId.ToString()));
        await new SqlBuilder("DELETE FROM jobs WHERE id ").In([.. ids.Select(id => (object?)id.ToString())])
            .ExecuteAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<Job?> TryStartAttemptAsync(Guid id, CancellationToken cancellationToken) =>
        (await TryStartAttemptsAsync([id], cancellationToken)).SingleOrDefault();

    public async Task<IReadOnlyList<Job>> TryStartAttemptsAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        var update = new SqlBuilder("UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = ");
        update.Append(update.Parameter(Now()));
        update.Append(" WHERE status NOT IN ('succeeded', 'failed') AND id ");
        update.In(ids.Distinct().Select(id => (object?)id.ToString()));
        update.Append($" RETURNING {Columns}");
        using var turn = await database.WaitToWriteAsync(connection, cancellationToken);
        await using var command = update.Build(connection, null);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var started = new List<Job>(ids.Count);
        while (await reader.ReadAsync(cancellationToken))
        {
            started.Add(Read(reader));
        }

        return started;
    }

    public Task RequeueAsync(Guid id, CancellationToken cancellationToken) => RequeueAsync([id], cancellationToken);

    public async Task RequeueAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        var update = new SqlBuilder("UPDATE jobs SET status = 'queued', updated_at = ");
        update.Append(update.Parameter(Now()));
        update.Append(" WHERE status = 'running' AND id ");
        update.In(ids.Select(id => (object?)id.ToString()));
        using var turn = await database.WaitToWriteAsync(connection, cancellationToken);
        await using var command = update.Build(connection, null);
        await command.ExecuteNonQueryAsync(cancellationToken);
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

    public async Task<bool> TrySucceedAsync(Guid id, JsonElement result, OutboxMessage? announcement, CancellationToken cancellationToken) =>
        (await TryFinishAsync([JobFinish.Succeeded(id, result, announcement)], cancellationToken)).Contains(id);

    public async Task<bool> TryFailAsync(Guid id, ProblemDetails problem, OutboxMessage? announcement, CancellationToken cancellationToken) =>
        (await TryFinishAsync([JobFinish.Failed(id, problem, announcement)], cancellationToken)).Contains(id);

    public async Task<IReadOnlySet<Guid>> TryFinishAsync(IReadOnlyList<JobFinish> outcomes, CancellationToken cancellationToken)
    {
        var distinct = outcomes.DistinctBy(outcome => outcome.Id).ToList();
        if (distinct.Count == 0)
        {
            return new HashSet<Guid>();
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // One conditional UPDATE for the batch (VALUES columns are column1.. in both dialects): a job that already
        // finished is not in the FROM's match, so it keeps its first outcome and RETURNING leaves it out.
        var update = new SqlBuilder("UPDATE jobs SET status = v.column2, result = v.column3, error = v.column4, updated_at = ");
        update.Append(update.Parameter(Now()));
        update.Append(" FROM ").Rows([.. distinct.Select(outcome => new object?[]
        {
            outcome.Id.ToString(), StatusText(outcome.Status), outcome.Result?.GetRawText(),
            outcome.Error is null ? null : JsonSerializer.Serialize(outcome.Error),
        })]);
        update.Append(" WHERE jobs.id = v.column1 AND jobs.status NOT IN ('succeeded', 'failed') RETURNING id");
        var changed = (await update.ReadStringsAsync(connection, transaction, cancellationToken)).Select(Guid.Parse).ToHashSet();
        // Only the recording that changed the job announces it: a redelivery records nothing and says nothing.
        var announcements = EventBatches.Combine(distinct
            .Where(outcome => changed.Contains(outcome.Id) && outcome.Announcement is not null)
            .Select(outcome => outcome.Announcement!).ToList(), messaging.Value.MaxEventsPerMessage);
        await OutboxStore.AddAsync(connection, transaction, announcements, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        if (announcements.Count > 0)
        {
            outbox.Notify();
        }

        return changed;
    }

    public async Task<int> PurgeFinishedAsync(DateTimeOffset finishedBefore, int limit, CancellationToken cancellationToken)
    {
        var cutoff = Timestamp(finishedBefore);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // The batch is locked by this transaction (PostgreSQL skips what another replica's sweep holds; SQLite has one
        // writer), so each job is deleted by one sweeper and no transaction holds more than `limit` jobs.
        var ids = new List<object?>();
        await using (var batch = WorkerDatabase.Command(connection, transaction, $"""
            SELECT id FROM jobs WHERE status IN ('succeeded', 'failed') AND updated_at < @cutoff
            ORDER BY updated_at LIMIT @limit {database.Dialect.SkipLocked}
            """, ("@cutoff", cutoff), ("@limit", limit)))
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }
        }

        if (ids.Count > 0)
        {
            await new SqlBuilder("DELETE FROM audit_log WHERE job_id ").In(ids)
                .ExecuteAsync(connection, transaction, cancellationToken);
            await new SqlBuilder("DELETE FROM jobs WHERE id ").In(ids).ExecuteAsync(connection, transaction, cancellationToken);
        }

        // Audit rows recorded after their job was purged (a late event), and outbox messages an earlier build marked sent
        // instead of deleting them.
        await WorkerDatabase.ExecuteAsync(connection, transaction, $"""
            DELETE FROM audit_log WHERE event_id IN (
                SELECT event_id FROM audit_log a WHERE a.job_id IS NOT NULL AND a.recorded_at < @cutoff
                  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = a.job_id)
                LIMIT @limit {database.Dialect.SkipLocked})
            """, cancellationToken, ("@cutoff", cutoff), ("@limit", limit));
        await WorkerDatabase.ExecuteAsync(connection, transaction, $"""
            DELETE FROM outbox WHERE id IN (
                SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < @cutoff LIMIT @limit {database.Dialect.SkipLocked})
            """, cancellationToken, ("@cutoff", cutoff), ("@limit", limit));
        await transaction.CommitAsync(cancellationToken);
        return ids.Count;
    }

    public async Task<string?> FindCallbackUrlAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = WorkerDatabase.Command(connection, null, "SELECT callback_url FROM jobs WHERE id = @id",
            ("@id", id.ToString()));
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static SqlBuilder CountUnfinished(string owner, int atMost) => new SqlBuilder("""
            SELECT COUNT(*) FROM (
                SELECT 1 FROM jobs WHERE owner = @owner AND status IN ('queued', 'running') LIMIT @at_most) AS unfinished
            """).With("@owner", owner).With("@at_most", atMost);

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
