using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Worker.Jobs;

namespace Worker.Tests.Jobs;

public sealed class JobRetentionSweeperTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_sweep_purges_every_job_finished_longer_ago_than_the_retention_batch_after_batch()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        for (var i = 0; i < 5; i++)
        {
            var finished = await db.AddQueuedAsync();
            await db.Store.TrySucceedAsync(finished.Id, JsonElement.Parse("{}"), null, Token);
        }

        var unfinished = await db.AddQueuedAsync();
        var options = Options.Create(new JobsOptions { Retention = TimeSpan.FromHours(1), RetentionBatchSize = 2 });

        var now = new JobRetentionSweeper(db.Store, options, new ShiftedClock(TimeSpan.Zero), NullLogger<JobRetentionSweeper>.Instance);
        var later = new JobRetentionSweeper(db.Store, options, new ShiftedClock(TimeSpan.FromHours(2)), NullLogger<JobRetentionSweeper>.Instance);

        Assert.Equal(0, await now.SweepAsync(Token)); // finished moments ago: kept
        Assert.Equal(5, await later.SweepAsync(Token));
        Assert.Equal([unfinished.Id], (await db.Store.ListAsync("tester", null, 10, null, Token)).Jobs.Select(job => job.Id));
    }

    private sealed class ShiftedClock(TimeSpan ahead) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + ahead;
    }
}
