using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Worker.Messaging;
using Worker.Messaging.Outbox;

namespace Worker.Tests.Messaging;

/// <summary>
/// A Worker that died between storing a job (with its queue message, in one transaction) and the broker's confirm:
/// the outbox relay, on the real SQLite outbox, publishes the message once its grace period has passed.
/// </summary>
public sealed class OutboxRecoveryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_job_stored_but_never_confirmed_is_published_by_the_relay_once_the_broker_takes_it()
    {
        await using var database = await TemporaryJobStore.CreateAsync();
        // What the submission had done when its process died: job and message committed, nothing published.
        var job = await database.AddQueuedAsync();
        var message = Assert.Single(await database.PendingAsync());
        // The broker refuses the relay's first two tries, as it would while it is still down.
        var publisher = new BrokerComingBack(failuresFirst: 2);
        using var relay = new OutboxRelay(database.Outbox, publisher,
            Options.Create(new MessagingOptions { OutboxPollInterval = TimeSpan.FromMilliseconds(20) }),
            new LaterClock(TimeSpan.FromHours(1)), // the grace period (15 s) is long over
            NullLogger<OutboxRelay>.Instance);

        await relay.StartAsync(Token);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
            deadline.CancelAfter(Deadline);
            OutboxMessage published;
            try
            {
                published = await publisher.Confirmed.Reader.ReadAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!Token.IsCancellationRequested)
            {
                Assert.Fail($"the relay did not publish the job's message within {Deadline.TotalSeconds} s ({publisher.Attempts} tries)");
                throw;
            }

            Assert.Equal(message.Id, published.Id);
            Assert.Equal(job.Id, published.JobId);
            Assert.Equal(OutboxRelay.JobMessageType, published.Type);
            Assert.Equal(TemporaryJobStore.Messaging.JobsQueue, published.RoutingKey);
            Assert.Equal([job.Id], TemporaryJobStore.JobsIn([published]));
            Assert.Equal(3, publisher.Attempts);

            // Confirmed, so recorded as sent: the relay does not publish it again.
            while ((await database.PendingAsync()).Count > 0)
            {
                await Task.Delay(20, deadline.Token);
            }
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>A broker that is unavailable for the first tries, then confirms every message.</summary>
    private sealed class BrokerComingBack(int failuresFirst) : IMessagePublisher
    {
        private int _attempts;

        public Channel<OutboxMessage> Confirmed { get; } = Channel.CreateUnbounded<OutboxMessage>();

        public int Attempts => Volatile.Read(ref _attempts);

        public Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _attempts) <= failuresFirst)
            {
                return Task.FromException(new BrokerUnavailableException("the broker is not there yet"));
            }

            Confirmed.Writer.TryWrite(message);
            return Task.CompletedTask;
        }
    }

    /// <summary>The system clock, moved on: every message already stored is that much older.</summary>
    private sealed class LaterClock(TimeSpan ahead) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + ahead;
    }
}
