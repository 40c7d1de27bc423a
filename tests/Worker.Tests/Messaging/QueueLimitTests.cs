using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using Tests.Metrics;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Webhooks;

namespace Worker.Tests.Messaging;

/// <summary>
/// The jobs queue's length limit on a real RabbitMQ (<see cref="LocalBroker"/>, one per class): a full queue nacks, a
/// submission is refused with 503 and not kept, a message already in the outbox waits there until there is room.
/// Each test uses queues of its own names.
/// </summary>
public sealed class QueueLimitTests(QueueLimitTests.Broker broker) : IClassFixture<QueueLimitTests.Broker>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static MessagingOptions Limited(int maxLength) => new()
    {
        JobsQueue = $"jobs-{Guid.NewGuid():N}",
        DeadLetterQueue = $"dead-{Guid.NewGuid():N}",
        RetryDelays = [TimeSpan.FromMinutes(1)],
        JobsQueueMaxLength = maxLength,
        PublishTimeout = TimeSpan.FromSeconds(10),
        OutboxPollInterval = TimeSpan.FromMilliseconds(50),
        OutboxGracePeriod = TimeSpan.FromMilliseconds(100),
        RetryAfter = TimeSpan.FromSeconds(7),
    };

    [Fact]
    public async Task A_submission_to_a_full_jobs_queue_is_refused_with_503_and_not_kept()
    {
        var messaging = Limited(maxLength: 2);
        await broker.DeclareAsync(messaging);
        await using var db = await TemporaryJobStore.CreateAsync();
        await using var publisher = broker.Publisher(messaging);
        using var meters = new MeterCapture();
        var jobs = new JobSubmissions(db.Store, db.Admissions, publisher, new CallbackUrlPolicy(Options.Create(new WebhookOptions())),
            Options.Create(new JobsOptions()), Options.Create(messaging), TimeProvider.System,
            new JobMetrics(meters.Factory));
        JobSubmission Submission(int i) => new("alice", "sentiment", JsonElement.Parse($"""["text {i}"]"""), null, $"key-{i}");

        var first = await jobs.SubmitAsync(Submission(1), Token);
        var second = await jobs.SubmitAsync(Submission(2), Token);
        var third = await jobs.SubmitAsync(Submission(3), Token);

        Assert.True(first.Value?.Created);
        Assert.True(second.Value?.Created);
        Assert.Equal(503, third.Problem?.Status);
        Assert.Equal("queue_full", third.Problem?.Extensions["code"]);
        Assert.Equal(7, third.Problem?.Extensions["retryAfter"]);
        Assert.Equal(2, (await db.Store.ListAsync("alice", null, 10, null, Token)).Jobs.Count); // the refused one is gone
        Assert.Empty(await db.PendingAsync());
        Assert.Equal(2u, await broker.MessageCountAsync(messaging.JobsQueue));
    }

    [Fact]
    public async Task A_job_message_already_in_the_outbox_waits_there_while_the_queue_is_full_and_is_published_after()
    {
        var messaging = Limited(maxLength: 1);
        await broker.DeclareAsync(messaging);
        await using var db = await TemporaryJobStore.CreateAsync();
        await using var publisher = broker.Publisher(messaging);
        await publisher.PublishAsync(TemporaryJobStore.JobMessageFor(Job.Queued(Guid.CreateVersion7(), "x", "sentiment",
            JsonElement.Parse("""["fills the queue"]"""), DateTimeOffset.UtcNow)) with { RoutingKey = messaging.JobsQueue }, null, Token);
        // Committed with its message, as a submission whose process died before the confirm leaves it.
        var job = Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse("""["waits"]"""), DateTimeOffset.UtcNow);
        await db.Store.AddAsync(job, "hash", TemporaryJobStore.JobMessageFor(job) with { RoutingKey = messaging.JobsQueue }, 10, Token);
        using var relay = new OutboxRelay(db.Outbox, publisher, Options.Create(messaging), TimeProvider.System,
            NullLogger<OutboxRelay>.Instance);

        await relay.StartAsync(Token);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2), Token); // several relay passes, each nacked
            Assert.Equal(job.Id, Assert.Single(await db.PendingAsync()).JobId);
            Assert.Equal(1u, await broker.MessageCountAsync(messaging.JobsQueue));

            await broker.PurgeAsync(messaging.JobsQueue); // consumers made room
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
            deadline.CancelAfter(Deadline);
            while ((await db.PendingAsync()).Count > 0)
            {
                await Task.Delay(50, deadline.Token);
            }

            Assert.Equal(1u, await broker.MessageCountAsync(messaging.JobsQueue));
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_jobs_queue_created_without_the_limit_is_detected_and_used_as_it_is()
    {
        var messaging = Limited(maxLength: 5);
        await using (var old = await broker.Connection.CreateChannelAsync(cancellationToken: Token))
        {
            // What a build before the limit declared.
            await old.QueueDeclareAsync(messaging.JobsQueue, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?>
                {
                    ["x-dead-letter-exchange"] = string.Empty,
                    ["x-dead-letter-routing-key"] = messaging.DeadLetterQueue,
                }, cancellationToken: Token);
        }

        var fresh = Limited(maxLength: 5);

        Assert.True(await MessagingTopology.JobsQueueDiffersAsync(broker.Connection, messaging, Token));
        Assert.False(await MessagingTopology.JobsQueueDiffersAsync(broker.Connection, fresh, Token));
        await using var channel = await broker.Connection.CreateChannelAsync(cancellationToken: Token);
        await MessagingTopology.DeclareJobQueuesAsync(channel, messaging, Token, jobsQueueExists: true);
        Assert.True(channel.IsOpen);
    }

    /// <summary>The class's broker and a connection to it.</summary>
    public sealed class Broker : IAsyncLifetime
    {
        private readonly LocalBroker _server = LocalBroker.OnFreePort();
        private ServiceProvider? _services;

        public IConnection Connection => _services!.GetRequiredService<IConnection>();

        public async ValueTask InitializeAsync()
        {
            await _server.StartAsync(TimeSpan.FromSeconds(90), CancellationToken.None);
            var factory = new ConnectionFactory { Uri = new Uri(_server.ConnectionString) };
            IConnection? connection = null;
            for (var attempt = 0; connection is null; attempt++)
            {
                try
                {
                    connection = await factory.CreateConnectionAsync();
                }
                catch (RabbitMQ.Client.Exceptions.BrokerUnreachableException) when (attempt < 50)
                {
                    await Task.Delay(200); // the port opens a moment before AMQP is served
                }
            }

            _services = new ServiceCollection().AddSingleton(connection).BuildServiceProvider();
        }

        public async Task DeclareAsync(MessagingOptions messaging)
        {
            await using var channel = await Connection.CreateChannelAsync(cancellationToken: Token);
            await MessagingTopology.DeclareJobQueuesAsync(channel, messaging, Token);
        }

        internal RabbitMqPublisher Publisher(MessagingOptions messaging) => new(_services!, Options.Create(messaging));

        public async Task<uint> MessageCountAsync(string queue)
        {
            await using var channel = await Connection.CreateChannelAsync(cancellationToken: Token);
            return await channel.MessageCountAsync(queue, Token);
        }

        public async Task PurgeAsync(string queue)
        {
            await using var channel = await Connection.CreateChannelAsync(cancellationToken: Token);
            await channel.QueuePurgeAsync(queue, Token);
        }

        public async ValueTask DisposeAsync()
        {
            if (_services is not null)
            {
                await _services.DisposeAsync();
            }

            await _server.DisposeAsync();
        }
    }
}
