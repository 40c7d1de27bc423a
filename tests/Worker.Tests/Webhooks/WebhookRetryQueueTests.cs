using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Worker.Audit;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Webhooks;
using Tests.Metrics;

namespace Worker.Tests.Webhooks;

/// <summary>
/// The webhooks queue's consumer: one attempt per delivery, a failed one republished to a delay queue (never a sleep
/// in the consumer), the audit line written once at the end, and a per-host cap on attempts in flight.
/// </summary>
public sealed class WebhookRetryQueueTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly WebhookMessage Message = new(Guid.CreateVersion7(), "job.completed", DateTimeOffset.UtcNow,
        Guid.CreateVersion7(), "alice", "https://hooks.example/job", """{"id":1}"""u8.ToArray());

    private sealed class Harness
    {
        public ScriptedSender Sender { get; } = new();

        public RecordingPublisher Publisher { get; } = new();

        public RecordingAuditLog Audit { get; } = new();

        public WebhookOptions Options { get; } = new()
        {
            SigningSecret = "retry-queue-tests-never-sign-anything-0123",
            BaseDelay = TimeSpan.FromSeconds(1),
            MaxDelay = TimeSpan.FromSeconds(60),
            MaxAttempts = 5,
            MaxConcurrencyPerHost = 2,
        };

        public MeterCapture Meters { get; } = new();

        public CallbackHostLimiter Hosts => field ??= new CallbackHostLimiter(Microsoft.Extensions.Options.Options.Create(Options));

        public WebhookConsumer Consumer()
        {
            var services = new ServiceCollection()
                .AddSingleton<IWebhookSender>(Sender)
                .AddSingleton<IMessagePublisher>(Publisher)
                .AddSingleton<IAuditLog>(Audit)
                .AddSingleton(TimeProvider.System)
                .AddSingleton<AuditTrail>()
                .BuildServiceProvider();
            return new WebhookConsumer(services, Microsoft.Extensions.Options.Options.Create(new MessagingOptions()),
                Microsoft.Extensions.Options.Options.Create(Options), Hosts, TimeProvider.System, new WebhookMetrics(Meters.Factory),
                NullLogger<WebhookConsumer>.Instance);
        }
    }

    [Fact]
    public async Task A_failed_attempt_is_republished_to_the_delay_queue_with_the_next_attempt_and_acked()
    {
        var harness = new Harness();
        harness.Sender.Next = new WebhookAttempt.Retryable("The receiver answered 500.");

        var outcome = await harness.Consumer().HandleAsync(Message, attempt: 2, Token);

        Assert.Equal(DeliveryOutcome.Ack, outcome);
        var (message, headers) = Assert.Single(harness.Publisher.Published);
        Assert.Equal("webhooks.retry.2s", message.RoutingKey); // BaseDelay 1 s doubled once before attempt 3
        Assert.Equal(string.Empty, message.Exchange);
        Assert.Equal(3, headers![MessagingTopology.AttemptHeader]);
        Assert.Equal(Message.EventId, WebhookMessage.TryParse(message.Body)!.EventId);
        Assert.Equal(Message.EventId.ToString(), message.Id.ToString());
        Assert.Equal(Message.Body, WebhookMessage.TryParse(message.Body)!.Body);
        Assert.Empty(harness.Audit.Records);
        Assert.Equal(1, harness.Sender.Calls);
        var counted = Assert.Single(harness.Meters.Of("webhooks.deliveries"));
        Assert.Equal(("{delivery}", "retry"), (counted.Unit, counted.Tags["webhook.outcome"]));
    }

    [Fact]
    public async Task A_receivers_retry_after_picks_the_first_delay_queue_at_least_as_long()
    {
        var harness = new Harness();
        harness.Sender.Next = new WebhookAttempt.Retryable("The receiver answered 429.", TimeSpan.FromSeconds(3));

        await harness.Consumer().HandleAsync(Message, attempt: 1, Token);

        Assert.Equal("webhooks.retry.4s", Assert.Single(harness.Publisher.Published).Message.RoutingKey);
    }

    [Fact]
    public async Task When_the_broker_does_not_confirm_the_retry_the_delivery_goes_back_unacked()
    {
        var harness = new Harness();
        harness.Sender.Next = new WebhookAttempt.Retryable("The receiver answered 503.");
        harness.Publisher.Fail = true;

        Assert.Equal(DeliveryOutcome.Requeue, await harness.Consumer().HandleAsync(Message, attempt: 1, Token));
        Assert.Empty(harness.Audit.Records);
    }

    [Fact]
    public async Task The_last_attempt_is_audited_as_failed_once_and_not_republished()
    {
        var harness = new Harness();
        harness.Sender.Next = new WebhookAttempt.Retryable("The receiver answered 500.");
        var consumer = harness.Consumer();

        Assert.Equal(DeliveryOutcome.Ack, await consumer.HandleAsync(Message, attempt: 5, Token));
        Assert.Equal(DeliveryOutcome.Ack, await consumer.HandleAsync(Message, attempt: 5, Token)); // redelivered

        Assert.Empty(harness.Publisher.Published);
        var record = Assert.Single(harness.Audit.Records);
        Assert.Equal("webhook.failed", record.Type);
        Assert.Equal(5, record.Data.GetProperty("attempts").GetInt32());
        Assert.Equal(Message.JobId, record.JobId);
    }

    [Fact]
    public async Task A_delivered_attempt_is_audited_with_its_attempt_number()
    {
        var harness = new Harness();
        harness.Sender.Next = new WebhookAttempt.Succeeded(204);

        Assert.Equal(DeliveryOutcome.Ack, await harness.Consumer().HandleAsync(Message, attempt: 3, Token));

        var record = Assert.Single(harness.Audit.Records);
        Assert.Equal("webhook.delivered", record.Type);
        Assert.Equal(3, record.Data.GetProperty("attempts").GetInt32());
        Assert.Empty(harness.Publisher.Published);
    }

    [Fact]
    public async Task A_delivery_to_a_host_at_its_cap_waits_in_the_first_delay_queue_without_using_an_attempt()
    {
        var harness = new Harness();
        using var first = harness.Hosts.TryEnter("hooks.example");
        using var second = harness.Hosts.TryEnter("hooks.example");

        var outcome = await harness.Consumer().HandleAsync(Message, attempt: 2, Token);

        Assert.Equal(DeliveryOutcome.Ack, outcome);
        Assert.Equal(0, harness.Sender.Calls);
        var (message, headers) = Assert.Single(harness.Publisher.Published);
        Assert.Equal("webhooks.retry.1s", message.RoutingKey);
        Assert.Equal(2, headers![MessagingTopology.AttemptHeader]);
    }

    [Fact]
    public async Task A_slow_host_holds_at_most_its_cap_while_another_hosts_deliveries_go_through()
    {
        var harness = new Harness();
        var release = new TaskCompletionSource();
        harness.Sender.Slow = ("slow.example", release.Task);
        harness.Sender.Next = new WebhookAttempt.Succeeded(204);
        var consumer = harness.Consumer();
        var slow = Message with { Url = "https://slow.example/hook" };

        var stuck = new[] { consumer.HandleAsync(slow, 1, Token), consumer.HandleAsync(slow, 1, Token) };
        // Bounded, so a missing cap fails here rather than hanging the run.
        var deferred = await consumer.HandleAsync(slow, 1, Token).WaitAsync(TimeSpan.FromSeconds(10), Token);
        var other = await consumer.HandleAsync(Message with { EventId = Guid.CreateVersion7() }, 1, Token)
            .WaitAsync(TimeSpan.FromSeconds(10), Token);

        Assert.Equal(DeliveryOutcome.Ack, deferred);
        Assert.Equal(DeliveryOutcome.Ack, other);
        Assert.Equal("webhooks.retry.1s", Assert.Single(harness.Publisher.Published).Message.RoutingKey);
        Assert.Single(harness.Audit.Records, r => r.Type == "webhook.delivered" && r.JobId == Message.JobId);
        Assert.All(stuck, task => Assert.False(task.IsCompleted));
        release.SetResult();
        Assert.All(await Task.WhenAll(stuck), outcome => Assert.Equal(DeliveryOutcome.Ack, outcome));
    }

    [Fact]
    public void The_host_limiter_caps_each_host_and_forgets_only_idle_hosts()
    {
        var limiter = new CallbackHostLimiter(Options.Create(new WebhookOptions { MaxConcurrencyPerHost = 2, HostLimiterCapacity = 16 }));

        var a1 = limiter.TryEnter("a.example:443");
        var a2 = limiter.TryEnter("a.example:443");
        Assert.NotNull(a1);
        Assert.NotNull(a2);
        Assert.Null(limiter.TryEnter("a.example:443"));
        Assert.Null(limiter.TryEnter("A.EXAMPLE:443"));
        using (var b = limiter.TryEnter("b.example:443"))
        {
            Assert.NotNull(b);
        }

        a1!.Dispose();
        a1.Dispose(); // a second dispose does not free a second slot
        var a3 = limiter.TryEnter("a.example:443");
        Assert.NotNull(a3);
        Assert.Null(limiter.TryEnter("a.example:443"));

        for (var i = 0; i < 100; i++)
        {
            limiter.TryEnter($"host{i}.example:443")!.Dispose();
        }

        Assert.Equal(16, limiter.Count);
        Assert.Null(limiter.TryEnter("a.example:443")); // busy, so remembered with its count
    }

    [Fact]
    public void The_delay_queues_follow_the_back_off_and_are_never_fewer_than_one()
    {
        var options = new WebhookOptions { BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(5), MaxAttempts = 6 };
        Assert.Equal([1, 2, 4, 5, 5], options.RetryDelays.Select(d => d.TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(4), options.RetryDelayBefore(4));
        Assert.Equal(TimeSpan.FromSeconds(5), options.RetryDelayBefore(2, retryAfter: TimeSpan.FromHours(1)));
        Assert.Single(new WebhookOptions { MaxAttempts = 1 }.RetryDelays);
        Assert.Equal("webhooks.retry.50ms", MessagingTopology.DelayQueueName("webhooks", TimeSpan.FromMilliseconds(50)));
    }

    internal sealed class ScriptedSender : IWebhookSender
    {
        private int _calls;

        public WebhookAttempt Next { get; set; } = new WebhookAttempt.Succeeded(204);

        public (string Host, Task Until)? Slow { get; set; }

        public int Calls => _calls;

        public Task<WebhookOutcome> DeliverAsync(WebhookDelivery delivery, CancellationToken cancellationToken) =>
            throw new NotSupportedException("The consumer makes single attempts.");

        public async Task<WebhookAttempt> AttemptAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            if (Slow is { } slow && new Uri(delivery.Url).Host == slow.Host)
            {
                await slow.Until.WaitAsync(cancellationToken);
            }

            return Next;
        }
    }

    internal sealed class RecordingPublisher : IMessagePublisher
    {
        public List<(OutboxMessage Message, IReadOnlyDictionary<string, object?>? Headers)> Published { get; } = [];

        public bool Fail { get; set; }

        public Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken)
        {
            if (Fail)
            {
                throw new BrokerUnavailableException("no confirm");
            }

            lock (Published)
            {
                Published.Add((message, headers));
            }

            return Task.CompletedTask;
        }
    }

    internal sealed class RecordingAuditLog : IAuditLog
    {
        private readonly List<AuditRecord> _records = [];

        public IReadOnlyList<AuditRecord> Records
        {
            get
            {
                lock (_records)
                {
                    return [.. _records];
                }
            }
        }

        public Task<bool> AppendAsync(AuditRecord record, CancellationToken cancellationToken)
        {
            lock (_records)
            {
                if (_records.Any(r => r.EventId == record.EventId))
                {
                    return Task.FromResult(false);
                }

                _records.Add(record);
                return Task.FromResult(true);
            }
        }

        public Task<IReadOnlyList<AuditRecord>> ForJobAsync(Guid jobId, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<AuditRecord>>([.. Records.Where(r => r.JobId == jobId)]);

        public Task<IReadOnlyList<AuditRecord>> OfTypeAsync(string type, int limit, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<AuditRecord>>([.. Records.Where(r => r.Type == type).Take(limit)]);
    }
}
