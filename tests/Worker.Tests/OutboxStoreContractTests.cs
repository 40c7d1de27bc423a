using Worker.Messaging.Outbox;
using Worker.Persistence;

namespace Worker.Tests;

/// <summary>The outbox's claims: what the relays on several replicas rely on to never publish one message at once.</summary>
public sealed class OutboxStoreContractTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Task<IReadOnlyList<OutboxMessage>> ClaimAllAsync(OutboxStore outbox, int limit = 1000, TimeSpan? lease = null)
    {
        var later = DateTimeOffset.UtcNow.AddMinutes(1);
        return outbox.ClaimAsync(later, later, limit, lease ?? Lease, Token);
    }

    [Fact]
    public async Task Notifications_before_a_wait_wake_it_once_and_one_after_it_wakes_the_next()
    {
        await using var db = await TemporaryJobStore.CreateAsync(DatabaseProvider.Sqlite);
        // Exceptions thrown on this thread while it notifies (Notify runs on its caller's thread; other tests' on theirs).
        var thread = Environment.CurrentManagedThreadId;
        var thrown = 0;
        void Count(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (Environment.CurrentManagedThreadId == thread)
            {
                Interlocked.Increment(ref thrown);
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            db.Outbox.Notify();
            db.Outbox.Notify(); // already signalled: kept as the one wake-up, without throwing
            db.Outbox.Notify();
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        Assert.Equal(0, thrown);
        var woken = await db.Outbox.WaitAsync(TimeSpan.FromSeconds(5), Token);
        var wokenAgain = await db.Outbox.WaitAsync(TimeSpan.FromMilliseconds(50), Token);
        db.Outbox.Notify();
        var wokenByTheNext = await db.Outbox.WaitAsync(TimeSpan.FromSeconds(5), Token);

        Assert.True(woken);
        Assert.False(wokenAgain);
        Assert.True(wokenByTheNext);
    }

    [Fact]
    public async Task Notifications_from_many_threads_at_once_leave_exactly_one_wake_up()
    {
        await using var db = await TemporaryJobStore.CreateAsync(DatabaseProvider.Sqlite);

        await Parallel.ForAsync(0, 10_000, Token, (_, _) => { db.Outbox.Notify(); return ValueTask.CompletedTask; });

        Assert.True(await db.Outbox.WaitAsync(TimeSpan.FromSeconds(5), Token));
        Assert.False(await db.Outbox.WaitAsync(TimeSpan.FromMilliseconds(50), Token));
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_claimed_message_is_not_claimed_again_until_released(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var job = await db.AddQueuedAsync();

        var first = await ClaimAllAsync(db.Outbox);
        var whileClaimed = await ClaimAllAsync(db.Outbox);
        await db.Outbox.ReleaseAsync([first[0].Id], Token);
        var afterRelease = await ClaimAllAsync(db.Outbox);

        Assert.Equal(job.Id, Assert.Single(first).JobId);
        Assert.Empty(whileClaimed);
        Assert.Equal(job.Id, Assert.Single(afterRelease).JobId);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_confirmed_message_leaves_the_outbox_and_the_others_stay(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var jobs = new[] { await db.AddQueuedAsync(), await db.AddQueuedAsync(), await db.AddQueuedAsync() };

        await db.Outbox.MarkSentAsync([jobs[0].Id, jobs[2].Id], Token);

        await using var connection = await db.Database.OpenAsync(Token);
        var rows = Convert.ToInt64(await WorkerDatabase.ScalarAsync(connection, null, "SELECT COUNT(*) FROM outbox", Token),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(1, rows);
        Assert.Equal(jobs[1].Id, Assert.Single(await db.PendingAsync()).JobId);
        Assert.Equal(1, (await db.Outbox.BacklogAsync(Token)).Count);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_claim_expires_after_its_lease_and_a_sent_message_is_never_claimed(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var expiring = await db.AddQueuedAsync();
        var sent = await db.AddQueuedAsync();
        await db.Outbox.MarkSentAsync(sent.Id, Token);

        var first = await ClaimAllAsync(db.Outbox, lease: TimeSpan.FromMilliseconds(200));
        await Task.Delay(400, Token);
        var afterLease = await ClaimAllAsync(db.Outbox);

        Assert.Equal(expiring.Id, Assert.Single(first).JobId);
        Assert.Equal(expiring.Id, Assert.Single(afterLease).JobId);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Only_due_messages_are_claimed_oldest_first(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var old = await db.AddQueuedAsync();
        var cutoff = DateTimeOffset.UtcNow;
        await Task.Delay(20, Token);
        await db.AddQueuedAsync();

        var jobsDue = await db.Outbox.ClaimAsync(cutoff, cutoff, 10, Lease, Token);

        Assert.Equal(old.Id, Assert.Single(jobsDue).JobId);
        Assert.Equal(2, (await db.PendingAsync()).Count);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Concurrent_claims_share_out_the_messages_without_overlap(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        for (var i = 0; i < 200; i++)
        {
            await db.AddQueuedAsync();
        }

        // Eight relays (as on eight replicas) claiming batches of ten until nothing is left.
        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            var mine = new List<Guid>();
            while (await ClaimAllAsync(db.Outbox, limit: 10) is { Count: > 0 } batch)
            {
                mine.AddRange(batch.Select(message => message.Id));
            }

            return mine;
        }));

        var all = claims.SelectMany(ids => ids).ToList();
        Assert.Equal(200, all.Count);
        Assert.Equal(200, all.Distinct().Count());
    }
}
