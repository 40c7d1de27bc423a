using Microsoft.AspNetCore.Mvc;
using Worker.Jobs;

namespace Worker.Tests;

public sealed class SqliteJobStoreTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_stored_job_reads_back_queued_with_its_inputs()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync(inputsJson: """["a", "b"]""");

        var found = await db.Store.FindAsync(job.Id, Token);

        Assert.NotNull(found);
        Assert.Equal(JobStatus.Queued, found.Status);
        Assert.Equal(0, found.Attempts);
        Assert.Equal(2, found.Inputs.GetArrayLength());
        Assert.Null(found.Result);
    }

    [Fact]
    public async Task Starting_an_attempt_marks_running_and_counts_it()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();

        await db.Store.TryStartAttemptAsync(job.Id, Token);
        var second = await db.Store.TryStartAttemptAsync(job.Id, Token);

        Assert.Equal(JobStatus.Running, second?.Status);
        Assert.Equal(2, second?.Attempts);
    }

    [Fact]
    public async Task A_result_is_recorded_exactly_once()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();

        var first = await db.Store.TrySucceedAsync(job.Id, JsonElement.Parse("""{"n":1}"""), Token);
        var second = await db.Store.TrySucceedAsync(job.Id, JsonElement.Parse("""{"n":2}"""), Token);
        var failAfter = await db.Store.TryFailAsync(job.Id, new ProblemDetails { Title = "late" }, Token);

        Assert.True(first);
        Assert.False(second);
        Assert.False(failAfter);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Succeeded, stored?.Status);
        Assert.Equal(1, stored?.Result?.GetProperty("n").GetInt32());
        Assert.Null(stored?.Error);
    }

    [Fact]
    public async Task A_finished_job_cannot_start_another_attempt()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        await db.Store.TryFailAsync(job.Id, new ProblemDetails { Title = "no", Extensions = { ["code"] = "x" } }, Token);

        var attempt = await db.Store.TryStartAttemptAsync(job.Id, Token);

        Assert.Null(attempt);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal("no", stored?.Error?.Title);
        Assert.Equal("x", stored?.Error?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task Concurrent_recordings_of_one_job_record_one_result()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            db.Store.TrySucceedAsync(job.Id, JsonElement.Parse($$"""{"n":{{i}}}"""), Token)));

        Assert.Equal(1, outcomes.Count(recorded => recorded));
    }

    [Fact]
    public async Task A_removed_job_is_gone_and_an_unknown_one_is_null()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();

        await db.Store.RemoveAsync(job.Id, Token);

        Assert.Null(await db.Store.FindAsync(job.Id, Token));
        Assert.Null(await db.Store.TryStartAttemptAsync(Guid.NewGuid(), Token));
    }
}
