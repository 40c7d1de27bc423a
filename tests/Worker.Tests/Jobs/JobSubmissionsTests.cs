using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Persistence;
using Worker.Webhooks;
using Tests.Metrics;

namespace Worker.Tests.Jobs;

/// <summary>Submitting jobs against the real database; the broker is a stand-in that confirms or refuses.</summary>
public sealed class JobSubmissionsTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static JobSubmission Submission(string inputs = """["great"]""", string? key = "key-1") =>
        new("alice", "sentiment", JsonElement.Parse(inputs), null, key);

    private static readonly MeterCapture UncheckedMeters = new();

    private static JobSubmissions Submissions(TemporaryJobStore db, IMessagePublisher publisher, MeterCapture? meters = null) => new(
        db.Store, db.AdmitWith(publisher), new CallbackUrlPolicy(Options.Create(new WebhookOptions())),
        Options.Create(new JobsOptions { MaxBatchSize = 2 }), Options.Create(TemporaryJobStore.Messaging), TimeProvider.System,
        new JobMetrics((meters ?? UncheckedMeters).Factory));

    [Fact]
    public async Task A_submission_is_stored_queued_and_repeating_it_returns_the_same_job()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var broker = new Broker();
        using var meters = new MeterCapture();
        var jobs = Submissions(db, broker, meters);

        var first = await jobs.SubmitAsync(Submission(), Token);
        var again = await jobs.SubmitAsync(Submission(), Token);
        var submitted = Assert.Single(meters.Of("jobs.submitted")); // the repeat is the same job, not another
        Assert.Equal(("{job}", "sentiment"), (submitted.Unit, submitted.Tags["model.name"]));
        var otherBody = await jobs.SubmitAsync(Submission("""["awful"]"""), Token);

        Assert.True(first.Value?.Created);
        Assert.False(again.Value?.Created);
        Assert.Equal(first.Value?.Job.Id, again.Value?.Job.Id);
        Assert.Equal(422, otherBody.Problem?.Status);
        Assert.Equal("idempotency_key_reused", otherBody.Problem?.Extensions["code"]);
        Assert.Equal([first.Value!.Job.Id], TemporaryJobStore.JobsIn(broker.Published));
        Assert.Empty(await db.PendingAsync());
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""["a","b","c"]""")]
    [InlineData("""{"text":"a"}""")]
    public async Task A_job_without_one_to_max_inputs_is_a_validation_problem(string inputs)
    {
        await using var db = await TemporaryJobStore.CreateAsync();

        var outcome = await Submissions(db, new Broker()).SubmitAsync(Submission(inputs), Token);

        Assert.Equal(400, outcome.Problem?.Status);
        Assert.Equal("validation_failed", outcome.Problem?.Extensions["code"]);
    }

    [Fact]
    public async Task When_the_broker_does_not_confirm_the_job_is_removed_and_the_answer_is_503()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var jobs = Submissions(db, new Broker { Refuse = true });

        var outcome = await jobs.SubmitAsync(Submission(), Token);

        Assert.Equal(503, outcome.Problem?.Status);
        Assert.Equal("broker_unavailable", outcome.Problem?.Extensions["code"]);
        Assert.Empty((await db.Store.ListAsync("alice", null, 10, null, Token)).Jobs);
        Assert.Empty(await db.PendingAsync());
    }

    [Fact]
    public async Task A_submission_past_the_owners_quota_is_a_429_problem_with_retry_after_and_is_not_queued()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var broker = new Broker();
        var jobs = new JobSubmissions(db.Store, db.AdmitWith(broker), new CallbackUrlPolicy(Options.Create(new WebhookOptions())),
            Options.Create(new JobsOptions
            {
                MaxUnfinishedPerOwner = 1,
                OwnerQuotas = [new OwnerQuota { Owner = "bob", MaxUnfinished = 2 }],
                QuotaRetryAfter = TimeSpan.FromSeconds(30),
            }),
            Options.Create(TemporaryJobStore.Messaging), TimeProvider.System, new JobMetrics(UncheckedMeters.Factory));

        var first = await jobs.SubmitAsync(Submission(key: "a"), Token);
        var refused = await jobs.SubmitAsync(Submission(key: "b"), Token);
        var bobs = await Task.WhenAll(new[] { "c", "d", "e" }.Select(key =>
            jobs.SubmitAsync(new JobSubmission("bob", "sentiment", JsonElement.Parse("[1]"), null, key), Token)));

        Assert.True(first.Value?.Created);
        Assert.Equal(429, refused.Problem?.Status);
        Assert.Equal("job_quota_exceeded", refused.Problem?.Extensions["code"]);
        Assert.Equal(30, refused.Problem?.Extensions["retryAfter"]);
        Assert.Equal(2, bobs.Count(outcome => outcome.Value?.Created == true)); // bob's own cap
        Assert.Equal(3, TemporaryJobStore.JobsIn(broker.Published).Count()); // queued: only the jobs admitted
    }

    [Fact]
    public async Task When_the_queue_is_full_the_job_is_removed_and_the_answer_is_503_queue_full_with_retry_after()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var jobs = Submissions(db, new Broker { Refuse = true, Nack = true });

        var outcome = await jobs.SubmitAsync(Submission(), Token);

        Assert.Equal(503, outcome.Problem?.Status);
        Assert.Equal("queue_full", outcome.Problem?.Extensions["code"]);
        Assert.Equal((int)TemporaryJobStore.Messaging.RetryAfter.TotalSeconds, outcome.Problem?.Extensions["retryAfter"]);
        Assert.Empty((await db.Store.ListAsync("alice", null, 10, null, Token)).Jobs);
        Assert.Empty(await db.PendingAsync());
    }

    [Fact]
    public async Task Another_owners_job_is_not_found()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var jobs = Submissions(db, new Broker());
        var submitted = (await jobs.SubmitAsync(Submission(), Token)).Value!.Job;

        var own = await jobs.GetAsync(submitted.Id, "alice", Token);
        var others = await jobs.GetAsync(submitted.Id, "mallory", Token);

        Assert.Equal(submitted.Id, own.Value?.Id);
        Assert.Equal("job_not_found", others.Problem?.Extensions["code"]);
    }

    [Fact]
    public async Task A_list_request_names_each_invalid_parameter()
    {
        await using var db = await TemporaryJobStore.CreateAsync();

        var outcome = await Submissions(db, new Broker()).ListAsync(" ", "7", 0, "nonsense", Token);

        var errors = Assert.IsAssignableFrom<IDictionary<string, string[]>>(outcome.Problem?.Extensions["errors"]);
        Assert.Equal(["owner", "pageSize", "pageToken", "status"], errors.Keys.Order());
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Concurrent_submissions_commit_together_and_each_answers_only_after_its_own_messages_confirm(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var broker = new HeldBroker();
        var jobs = Submissions(db, broker);

        var submissions = Enumerable.Range(0, 40).Select(i => jobs.SubmitAsync(Submission(key: $"key-{i}"), Token)).ToList();
        await broker.WaitForJobsAsync(40);

        // Every job was committed (each message is published only after its commit) in fewer transactions than jobs,
        // and the jobs of one transaction share a message.
        Assert.InRange(db.Admissions.AdmissionBatches, 1, 39);
        Assert.Equal(db.Admissions.AdmissionBatches, broker.Held.Count);
        Assert.Equal(40, TemporaryJobStore.JobsIn(broker.Held).Distinct().Count());
        Assert.All(submissions, submission => Assert.False(submission.IsCompleted));
        var confirmed = broker.Held.Take(Math.Max(1, broker.Held.Count / 2)).ToList();
        var confirmedJobs = TemporaryJobStore.JobsIn(confirmed).ToHashSet();
        broker.Confirm(confirmed);
        while (submissions.Count(submission => submission.IsCompleted) < confirmedJobs.Count)
        {
            await Task.Delay(10, Token);
        }

        await Task.Delay(100, Token); // time for a wrong answer to arrive
        var answered = new HashSet<Guid>();
        foreach (var submission in submissions.Where(submission => submission.IsCompleted))
        {
            answered.Add((await submission).Value!.Job.Id);
        }

        Assert.True(confirmedJobs.SetEquals(answered), $"answered {answered.Count}, of which {answered.Except(confirmedJobs).Count()} unconfirmed");

        broker.Confirm(broker.Held);
        var outcomes = await Task.WhenAll(submissions);
        Assert.All(outcomes, outcome => Assert.True(outcome.Value?.Created));
        Assert.Equal(40, outcomes.Select(outcome => outcome.Value!.Job.Id).Distinct().Count());
        Assert.Equal(40, (await db.Store.ListAsync("alice", null, 100, null, Token)).Jobs.Count);
        Assert.Empty(await db.PendingAsync()); // every confirm recorded
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task When_a_shared_message_is_not_confirmed_every_job_in_it_is_refused_and_removed(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var broker = new HeldBroker();
        var jobs = Submissions(db, broker);

        var submissions = Enumerable.Range(0, 30).Select(i => jobs.SubmitAsync(Submission(key: $"key-{i}"), Token)).ToList();
        await broker.WaitForJobsAsync(30);
        var shared = broker.Held.MaxBy(message => TemporaryJobStore.JobsIn([message]).Count())!;
        var refusedJobs = TemporaryJobStore.JobsIn([shared]).ToHashSet();
        broker.Refuse(shared);
        broker.Confirm(broker.Held.Where(message => message.Id != shared.Id));
        var outcomes = await Task.WhenAll(submissions);

        var refused = outcomes.Where(outcome => outcome.Problem is not null).ToList();
        Assert.Equal(refusedJobs.Count, refused.Count);
        Assert.All(refused, outcome => Assert.Equal("queue_full", outcome.Problem!.Extensions["code"]));
        var kept = (await db.Store.ListAsync("alice", null, 100, null, Token)).Jobs.Select(job => job.Id).ToHashSet();
        Assert.Equal(30 - refusedJobs.Count, kept.Count);
        Assert.Empty(kept.Intersect(refusedJobs));
        Assert.Empty(await db.PendingAsync()); // the refused message went with its jobs; the others' confirms are recorded
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_job_that_cannot_be_stored_fails_alone_and_the_jobs_committed_with_it_are_kept(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        var existing = await db.AddQueuedAsync();
        var twin = Job.Queued(existing.Id, "alice", "sentiment", JsonElement.Parse("""["again"]"""), DateTimeOffset.UtcNow);
        var admit = db.AdmitWith(new HeldBroker());

        var admissions = Enumerable.Range(0, 20).Select(i =>
            {
                var job = Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse($"""["job {i}"]"""), DateTimeOffset.UtcNow);
                return admit.AddAsync(job, $"hash-{i}", int.MaxValue - 1, null, Token);
            })
            .Append(admit.AddAsync(twin, "hash-twin", int.MaxValue - 1, null, Token))
            .ToList();

        await Assert.ThrowsAsync<InvalidOperationException>(() => admissions[^1]);
        var stored = await Task.WhenAll(admissions.SkipLast(1));
        Assert.All(stored, admitted => Assert.True(admitted.Admission.Created));
        Assert.Equal(20, (await db.Store.ListAsync("alice", null, 100, null, Token)).Jobs.Count);
        Assert.Equal(20, TemporaryJobStore.JobsIn(await db.PendingAsync()).Count(id => id != existing.Id)); // none confirmed
    }

    [Fact]
    public async Task The_answer_does_not_wait_for_the_confirms_record_which_follows()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var outbox = new SlowToMarkOutbox(db.Outbox);
        await using var admissions = new JobAdmissions(db.Store, outbox, new Broker());
        var jobs = new JobSubmissions(db.Store, admissions, new CallbackUrlPolicy(Options.Create(new WebhookOptions())),
            Options.Create(new JobsOptions()), Options.Create(TemporaryJobStore.Messaging), TimeProvider.System,
            new JobMetrics(UncheckedMeters.Factory));

        var outcome = await jobs.SubmitAsync(Submission(), Token).WaitAsync(TimeSpan.FromSeconds(30), Token);

        Assert.True(outcome.Value?.Created);
        Assert.False(outbox.Marked.Task.IsCompleted); // answered while the record waits
        outbox.Release.SetResult();
        await admissions.SentMarksRecordedAsync(Token);
        Assert.Equal([outcome.Value!.Job.Id], await outbox.Marked.Task);
        Assert.Empty(await db.PendingAsync());
    }

    /// <summary>The real outbox, whose records of confirms wait until the test releases them.</summary>
    private sealed class SlowToMarkOutbox(IOutbox inner) : IOutbox
    {
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<Guid[]> Marked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task MarkSentAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
        {
            await Release.Task.WaitAsync(cancellationToken);
            await inner.MarkSentAsync(ids, cancellationToken);
            Marked.TrySetResult([.. ids.Where(id => id != Guid.Empty)]);
        }

        public Task MarkSentAsync(Guid id, CancellationToken cancellationToken) => MarkSentAsync([id], cancellationToken);

        public Task<IReadOnlyList<OutboxMessage>> ClaimAsync(DateTimeOffset jobsCreatedBefore, DateTimeOffset eventsCreatedBefore,
            int limit, TimeSpan lease, CancellationToken cancellationToken) =>
            inner.ClaimAsync(jobsCreatedBefore, eventsCreatedBefore, limit, lease, cancellationToken);

        public Task ReleaseAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken) => inner.ReleaseAsync(ids, cancellationToken);

        public Task<OutboxBacklog> BacklogAsync(CancellationToken cancellationToken) => inner.BacklogAsync(cancellationToken);

        public void Notify() => inner.Notify();

        public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => inner.WaitAsync(timeout, cancellationToken);
    }

    /// <summary>Takes every message at once and confirms (or refuses, as a full queue does) each only when the test says so.</summary>
    private sealed class HeldBroker : IMessagePublisher
    {
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _confirms = new();

        public ConcurrentQueue<OutboxMessage> Held { get; } = new();

        public Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken)
        {
            var confirm = _confirms.GetOrAdd(message.Id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            Held.Enqueue(message);
            return confirm.Task.WaitAsync(cancellationToken);
        }

        public async Task WaitForJobsAsync(int count)
        {
            while (TemporaryJobStore.JobsIn(Held).Count() < count)
            {
                await Task.Delay(10, Token);
            }
        }

        public void Confirm(IEnumerable<OutboxMessage> messages)
        {
            foreach (var message in messages)
            {
                _confirms[message.Id].TrySetResult();
            }
        }

        public void Refuse(OutboxMessage message) =>
            _confirms[message.Id].TrySetException(new BrokerUnavailableException("The queue is full.", refused: true));
    }

    private sealed class Broker : IMessagePublisher
    {
        public bool Refuse { get; init; }

        /// <summary>Refuses as a full queue does (a nack), rather than as a broker that is down.</summary>
        public bool Nack { get; init; }

        public List<OutboxMessage> Published { get; } = [];

        public Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken)
        {
            if (Refuse)
            {
                throw new BrokerUnavailableException("The broker did not confirm.", refused: Nack);
            }

            Published.Add(message);
            return Task.CompletedTask;
        }
    }
}
