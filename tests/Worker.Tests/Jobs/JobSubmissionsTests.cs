using Microsoft.Extensions.Options;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
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
        db.Store, db.Outbox, publisher, new CallbackUrlPolicy(Options.Create(new WebhookOptions())),
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
        Assert.Equal([first.Value!.Job.Id], broker.Published.Select(m => m.JobId));
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

    private sealed class Broker : IMessagePublisher
    {
        public bool Refuse { get; init; }

        public List<OutboxMessage> Published { get; } = [];

        public Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken)
        {
            if (Refuse)
            {
                throw new BrokerUnavailableException("The broker did not confirm.");
            }

            Published.Add(message);
            return Task.CompletedTask;
        }
    }
}
