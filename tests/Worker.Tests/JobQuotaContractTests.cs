using Worker.Jobs;
using Worker.Persistence;

namespace Worker.Tests;

/// <summary>The cap on an owner's unfinished jobs, decided by the store in the database, on both providers.</summary>
public sealed class JobQuotaContractTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Job NewJob(string owner, string? key = null) =>
        Job.Queued(Guid.CreateVersion7(), owner, "sentiment", JsonElement.Parse("""["great"]"""), DateTimeOffset.UtcNow,
            idempotencyKey: key);

    private static Task<JobAdmission> AddAsync(JobStore store, Job job, int maxUnfinished) =>
        store.AddAsync(job, "hash", maxUnfinished, Token);

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_submission_past_the_owners_cap_stores_nothing_until_one_of_their_jobs_finishes(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var first = await AddAsync(db.Store, NewJob("alice"), maxUnfinished: 2);
        var second = await AddAsync(db.Store, NewJob("alice"), maxUnfinished: 2);
        await db.Store.TryStartAttemptAsync(second.Job.Id, Token); // running counts as unfinished too

        var third = await AddAsync(db.Store, NewJob("alice"), maxUnfinished: 2);
        var someoneElse = await AddAsync(db.Store, NewJob("bob"), maxUnfinished: 2);

        Assert.True(first.Created && second.Created);
        Assert.True(third.OverQuota);
        Assert.False(third.Created);
        Assert.Null(await db.Store.FindAsync(third.Job.Id, Token));
        Assert.True(someoneElse.Created);
        Assert.Equal(3, (await db.PendingAsync()).Count); // no queue message for the refused job

        await db.Store.TrySucceedAsync(first.Job.Id, JsonElement.Parse("{}"), null, Token);
        var afterOneFinished = await AddAsync(db.Store, NewJob("alice"), maxUnfinished: 2);
        Assert.True(afterOneFinished.Created);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_repeated_idempotency_key_finds_its_job_even_when_the_owner_is_at_the_cap(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var original = await AddAsync(db.Store, NewJob("alice", key: "k"), maxUnfinished: 1);

        var retried = await AddAsync(db.Store, NewJob("alice", key: "k"), maxUnfinished: 1);

        Assert.False(retried.OverQuota);
        Assert.False(retried.Created);
        Assert.Equal(original.Job.Id, retried.Job.Id);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Concurrent_submissions_through_three_replicas_never_pass_the_cap(DatabaseProvider provider)
    {
        const int cap = 5;
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        JobStore[] replicas = [db.AnotherReplica(), db.AnotherReplica(), db.AnotherReplica()];

        var admissions = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            AddAsync(replicas[i % replicas.Length], NewJob("alice"), cap)));

        Assert.Equal(cap, admissions.Count(admission => admission.Created));
        Assert.Equal(30 - cap, admissions.Count(admission => admission.OverQuota));
        Assert.Equal(cap, (await db.Store.ListAsync("alice", null, 100, null, Token)).Jobs.Count);
    }
}
