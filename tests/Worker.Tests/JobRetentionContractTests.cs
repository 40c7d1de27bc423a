using Worker.Audit;
using Worker.Jobs;
using Worker.Persistence;

namespace Worker.Tests;

/// <summary>Purging finished jobs after the retention period, with their audit rows, on both providers.</summary>
public sealed class JobRetentionContractTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static AuditRecord AuditOf(Guid? jobId, string type = "job.completed") => new(Guid.CreateVersion7(), type,
        DateTimeOffset.UtcNow, "worker", jobId, JsonElement.Parse("{}"), DateTimeOffset.UtcNow);

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Jobs_finished_before_the_cutoff_go_with_their_audit_rows_and_everything_else_stays(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var expired = await db.AddQueuedAsync(idempotencyKey: "reused-after-purge");
        var stillQueued = await db.AddQueuedAsync();
        await db.Store.TryFailAsync(expired.Id, new Microsoft.AspNetCore.Mvc.ProblemDetails { Title = "no" }, null, Token);
        await db.Audit.AppendAsync(AuditOf(expired.Id), Token);
        await db.Audit.AppendAsync(AuditOf(null, "model.activated"), Token);
        await Task.Delay(20, Token);
        var cutoff = DateTimeOffset.UtcNow;
        await Task.Delay(20, Token);
        var recent = await db.AddQueuedAsync();
        await db.Store.TrySucceedAsync(recent.Id, JsonElement.Parse("{}"), null, Token);
        await db.Audit.AppendAsync(AuditOf(recent.Id), Token);

        var purged = await db.Store.PurgeFinishedAsync(cutoff, 100, Token);

        Assert.Equal(1, purged);
        Assert.Null(await db.Store.FindAsync(expired.Id, Token));
        Assert.Empty(await db.Audit.ForJobAsync(expired.Id, Token));
        Assert.NotNull(await db.Store.FindAsync(stillQueued.Id, Token)); // older, but unfinished
        Assert.NotNull(await db.Store.FindAsync(recent.Id, Token));
        Assert.Single(await db.Audit.ForJobAsync(recent.Id, Token));
        Assert.Single(await db.Audit.OfTypeAsync("model.activated", 10, Token)); // not a job's row
        // The purged job's idempotency key went with it: the same key now makes a new job.
        var again = await db.AddQueuedAsync(idempotencyKey: "reused-after-purge");
        Assert.NotEqual(expired.Id, again.Id);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Sweepers_on_three_replicas_purge_in_bounded_batches_and_each_job_once(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        for (var i = 0; i < 9; i++)
        {
            var job = await db.AddQueuedAsync();
            await db.Store.TrySucceedAsync(job.Id, JsonElement.Parse("{}"), null, Token);
        }

        var cutoff = DateTimeOffset.UtcNow.AddSeconds(1);
        Assert.Equal(2, await db.Store.PurgeFinishedAsync(cutoff, 2, Token)); // never more than a batch

        JobStore[] replicas = [db.AnotherReplica(), db.AnotherReplica(), db.AnotherReplica()];
        var purgedByEach = await Task.WhenAll(replicas.Select(async replica =>
        {
            var total = 0;
            for (int purged; (purged = await replica.PurgeFinishedAsync(cutoff, 2, Token)) > 0;)
            {
                Assert.True(purged <= 2);
                total += purged;
            }

            return total;
        }));

        Assert.Equal(7, purgedByEach.Sum());
        Assert.Empty((await db.Store.ListAsync("tester", null, 100, null, Token)).Jobs);
    }
}
