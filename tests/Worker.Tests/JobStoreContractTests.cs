using Microsoft.AspNetCore.Mvc;
using Worker.Jobs;
using Worker.Persistence;

namespace Worker.Tests;

public sealed class JobStoreContractTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_stored_job_reads_back_queued_with_its_inputs(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync(inputsJson: """["a", "b"]""");

        var found = await db.Store.FindAsync(job.Id, Token);

        Assert.NotNull(found);
        Assert.Equal(JobStatus.Queued, found.Status);
        Assert.Equal(0, found.Attempts);
        Assert.Equal(2, found.Inputs.GetArrayLength());
        Assert.Null(found.Result);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Starting_an_attempt_marks_running_and_counts_it(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync();

        await db.Store.TryStartAttemptAsync(job.Id, Token);
        var second = await db.Store.TryStartAttemptAsync(job.Id, Token);

        Assert.Equal(JobStatus.Running, second?.Status);
        Assert.Equal(2, second?.Attempts);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_result_is_recorded_exactly_once(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync();

        var first = await db.Store.TrySucceedAsync(job.Id, JsonElement.Parse("""{"n":1}"""), null, Token);
        var second = await db.Store.TrySucceedAsync(job.Id, JsonElement.Parse("""{"n":2}"""), null, Token);
        var failAfter = await db.Store.TryFailAsync(job.Id, new ProblemDetails { Title = "late" }, null, Token);

        Assert.True(first);
        Assert.False(second);
        Assert.False(failAfter);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Succeeded, stored?.Status);
        Assert.Equal(1, stored?.Result?.GetProperty("n").GetInt32());
        Assert.Null(stored?.Error);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_finished_job_cannot_start_another_attempt(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync();
        await db.Store.TryFailAsync(job.Id, new ProblemDetails { Title = "no", Extensions = { ["code"] = "x" } }, null, Token);

        var attempt = await db.Store.TryStartAttemptAsync(job.Id, Token);

        Assert.Null(attempt);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal("no", stored?.Error?.Title);
        Assert.Equal("x", stored?.Error?.Extensions["code"]?.ToString());
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Concurrent_recordings_of_one_job_record_one_result(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            db.Store.TrySucceedAsync(job.Id, JsonElement.Parse($$"""{"n":{{i}}}"""), null, Token)));

        Assert.Equal(1, outcomes.Count(recorded => recorded));
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_removed_job_is_gone_and_an_unknown_one_is_null(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync();

        await db.Store.RemoveAsync([job.Id], Assert.Single(await db.PendingAsync()).Id, Token);

        Assert.Null(await db.Store.FindAsync(job.Id, Token));
        Assert.Null(await db.Store.TryStartAttemptAsync(Guid.NewGuid(), Token));
        Assert.Empty(await db.PendingAsync()); // its queue message went with it
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_job_and_its_queue_message_are_stored_together(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);

        var job = await db.AddQueuedAsync();

        var pending = Assert.Single(await db.PendingAsync());
        Assert.Equal(job.Id, pending.JobId);
        await db.Outbox.MarkSentAsync(pending.Id, Token);
        Assert.Empty(await db.PendingAsync());
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task The_same_idempotency_key_returns_the_first_job(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var first = await db.AddQueuedAsync(idempotencyKey: "k-1");
        var again = Job.Queued(Guid.CreateVersion7(), "tester", "sentiment", JsonElement.Parse("""["great"]"""), DateTimeOffset.UtcNow,
            idempotencyKey: "k-1");

        var admission = await db.Store.AddAsync(again, """["great"]""", int.MaxValue - 1, Token);
        var otherBody = await db.Store.AddAsync(again with { Id = Guid.CreateVersion7() }, "different", int.MaxValue - 1, Token);
        var otherOwner = await db.AddQueuedAsync(owner: "someone-else", idempotencyKey: "k-1");

        Assert.False(admission.Created);
        Assert.True(admission.SameRequest);
        Assert.Equal(first.Id, admission.Job.Id);
        Assert.False(otherBody.SameRequest);
        Assert.NotEqual(first.Id, otherOwner.Id);
        Assert.Equal(2, (await db.PendingAsync()).Count);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Concurrent_submissions_under_one_idempotency_key_store_one_job(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);

        var admissions = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
        {
            var job = Job.Queued(Guid.CreateVersion7(), "tester", "sentiment", JsonElement.Parse("""["great"]"""),
                DateTimeOffset.UtcNow, idempotencyKey: "same");
            return db.Store.AddAsync(job, "hash", int.MaxValue - 1, Token);
        }));

        var created = Assert.Single(admissions, admission => admission.Created);
        Assert.All(admissions, admission => Assert.Equal(created.Job.Id, admission.Job.Id));
        Assert.All(admissions, admission => Assert.True(admission.SameRequest));
        Assert.Equal(created.Job.Id, Assert.Single(await db.PendingAsync()).JobId);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task An_owners_jobs_are_listed_newest_first_in_pages_and_by_status(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var jobs = new List<Job>();
        for (var i = 0; i < 5; i++)
        {
            jobs.Add(await db.AddQueuedAsync());
        }

        await db.AddQueuedAsync(owner: "someone-else");
        await db.Store.TrySucceedAsync(jobs[1].Id, JsonElement.Parse("{}"), null, Token);
        await db.Store.TrySucceedAsync(jobs[3].Id, JsonElement.Parse("{}"), null, Token);

        var first = await db.Store.ListAsync("tester", null, 2, null, Token);
        var second = await db.Store.ListAsync("tester", null, 2, first.NextPageToken, Token);
        var third = await db.Store.ListAsync("tester", null, 2, second.NextPageToken, Token);
        var succeeded = await db.Store.ListAsync("tester", JobStatus.Succeeded, 1, null, Token);
        var succeededBefore = await db.Store.ListAsync("tester", JobStatus.Succeeded, 1, succeeded.NextPageToken, Token);

        Assert.Equal([jobs[4].Id, jobs[3].Id], first.Jobs.Select(j => j.Id));
        Assert.Equal([jobs[2].Id, jobs[1].Id], second.Jobs.Select(j => j.Id));
        Assert.Equal([jobs[0].Id], third.Jobs.Select(j => j.Id));
        Assert.Null(third.NextPageToken);
        Assert.Equal([jobs[3].Id], succeeded.Jobs.Select(j => j.Id));
        Assert.Equal([jobs[1].Id], succeededBefore.Jobs.Select(j => j.Id));
        Assert.Null(succeededBefore.NextPageToken);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_page_of_an_owners_jobs_is_read_in_order_from_an_index_without_sorting_them(DatabaseProvider provider)
    {
        // A page that sorted the owner's jobs cost as much as all of them: 68 ms a page at 30,000 jobs (PostgreSQL).
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await using var connection = await db.Database.OpenAsync(Token);
        await using var transaction = await connection.BeginTransactionAsync(Token);
        var explain = "EXPLAIN QUERY PLAN ";
        if (provider == DatabaseProvider.Postgres)
        {
            // An empty table is cheapest scanned and sorted: with both ruled out, a plan has no sort only if an
            // index gives the order (with rows, the planner picks that index for ORDER BY ... LIMIT by itself).
            await WorkerDatabase.ExecuteAsync(connection, transaction, "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off", Token);
            explain = "EXPLAIN ";
        }

        foreach (var (byStatus, afterToken) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            await using var command = JobStore.ListStatement("tester", byStatus ? JobStatus.Succeeded : null,
                afterToken ? new PageToken("2026-12-03T00:00:00.0000000Z", Guid.NewGuid().ToString()) : null, 11)
                .Build(connection, transaction);
            command.CommandText = explain + command.CommandText;
            var plan = new List<string>();
            await using (var reader = await command.ExecuteReaderAsync(Token))
            {
                while (await reader.ReadAsync(Token))
                {
                    plan.Add(reader.GetString(reader.FieldCount - 1));
                }
            }

            var text = string.Join("\n", plan);
            Assert.Contains(byStatus ? "ix_jobs_owner_status_created" : "ix_jobs_owner_created", text);
            Assert.DoesNotContain(provider == DatabaseProvider.Postgres ? "Sort" : "TEMP B-TREE", text);
        }
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Only_the_recording_that_finishes_a_job_queues_its_announcement(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync();
        await db.Outbox.MarkSentAsync(job.Id, Token);
        var result = JsonElement.Parse("""{"version":"1","predictions":[]}""");

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => db.Store.TrySucceedAsync(job.Id, result,
            Worker.Events.JobEvents.Completed(job, result, TemporaryJobStore.Messaging, DateTimeOffset.UtcNow), Token)));

        Assert.Equal(1, outcomes.Count(recorded => recorded));
        var announcement = Assert.Single(await db.PendingAsync());
        Assert.Equal("job.completed", announcement.Type);
        Assert.Equal("events", announcement.Exchange);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task The_outcomes_recorded_together_are_announced_in_one_message_without_those_recorded_before(
        DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var jobs = new List<Job>();
        for (var i = 0; i < 4; i++)
        {
            var job = await db.AddQueuedAsync();
            await db.Outbox.MarkSentAsync(job.Id, Token);
            jobs.Add(job);
        }

        var result = JsonElement.Parse("""{"version":"1","predictions":[]}""");
        Assert.True(await db.Store.TrySucceedAsync(jobs[0].Id, result,
            Worker.Events.JobEvents.Completed(jobs[0], result, TemporaryJobStore.Messaging, DateTimeOffset.UtcNow), Token));
        var first = Assert.Single(await db.PendingAsync());
        await db.Outbox.MarkSentAsync(first.Id, Token);

        var finishes = jobs.Select(job => JobFinish.Succeeded(job.Id, result,
            Worker.Events.JobEvents.Completed(job, result, TemporaryJobStore.Messaging, DateTimeOffset.UtcNow))).ToList();
        var recorded = await db.Store.TryFinishAsync(finishes, Token);

        Assert.Equal(jobs.Skip(1).Select(job => job.Id).Order(), recorded.Order());
        var announcement = Assert.Single(await db.PendingAsync());
        Assert.Equal(jobs.Skip(1).Select(job => job.Id),
            Worker.Events.DomainEvent.TryParseAll(announcement.Body)!.Select(e => e.JobId!.Value));
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task An_audit_record_is_appended_once_per_event(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var jobId = Guid.CreateVersion7();
        var record = new Worker.Audit.AuditRecord(Guid.CreateVersion7(), "job.completed", DateTimeOffset.UtcNow, "worker", jobId,
            JsonElement.Parse("{}"), DateTimeOffset.UtcNow);

        var first = await db.Audit.AppendAsync(record, Token);
        var again = await db.Audit.AppendAsync(record with { RecordedAt = DateTimeOffset.UtcNow }, Token);

        Assert.True(first);
        Assert.False(again);
        Assert.Equal(record.EventId, Assert.Single(await db.Audit.ForJobAsync(jobId, Token)).EventId);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Concurrent_appends_are_each_recorded_once_and_a_repeated_event_only_by_one_of_them(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var jobId = Guid.CreateVersion7();
        var records = Enumerable.Range(0, 30).Select(i => new Worker.Audit.AuditRecord(Guid.CreateVersion7(), "job.completed",
            DateTimeOffset.UtcNow, "worker", jobId, JsonElement.Parse($$"""{"n":{{i}}}"""), DateTimeOffset.UtcNow)).ToList();

        // Every record twice, all at once: appends that arrive together share a transaction (group commit).
        var appended = await Task.WhenAll(records.Concat(records).Select(record => db.Audit.AppendAsync(record, Token)));

        Assert.Equal(30, appended.Count(added => added));
        Assert.Equal(records.Select(record => record.EventId).Order(),
            (await db.Audit.ForJobAsync(jobId, Token)).Select(record => record.EventId).Order());
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Audit_records_of_a_type_are_the_latest_oldest_first(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var start = DateTimeOffset.UtcNow;
        var records = Enumerable.Range(0, 5).Select(i => new Worker.Audit.AuditRecord(Guid.CreateVersion7(), "model.activated",
            start.AddSeconds(i), "worker", null, JsonElement.Parse($$"""{"n":{{i}}}"""), start.AddSeconds(i))).ToList();
        foreach (var record in records)
        {
            await db.Audit.AppendAsync(record, Token);
        }

        await db.Audit.AppendAsync(records[0] with { EventId = Guid.CreateVersion7(), Type = "job.completed" }, Token);

        var latest = await db.Audit.OfTypeAsync("model.activated", 3, Token);

        Assert.Equal(records.Skip(2).Select(r => r.EventId), latest.Select(r => r.EventId));
        Assert.Equal(start.AddSeconds(2), latest[0].RecordedAt);
        Assert.Equal(2, latest[0].Data.GetProperty("n").GetInt32());
    }
}
