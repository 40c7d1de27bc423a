using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Persistence;

namespace Worker.Tests.Messaging;

/// <summary>
/// The outbox relay polls every second on every replica; on PostgreSQL each statement of a poll was a trace of its own
/// in the dashboard. An idle poll leaves nothing; a batch it publishes is one span, with the batch's statements under it.
/// </summary>
public sealed class OutboxRelayTracingTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_relay_leaves_no_trace_while_idle_and_one_span_with_its_statements_per_published_batch()
    {
        await using var database = await TemporaryJobStore.CreateAsync(DatabaseProvider.Postgres);
        using var recorded = new RelaySpans();
        var publisher = new RecordingPublisher();
        using var relay = new OutboxRelay(database.Outbox, publisher,
            Options.Create(new MessagingOptions { OutboxPollInterval = TimeSpan.FromMilliseconds(20) }),
            new LaterClock(TimeSpan.FromHours(1)), // a stored job message is past its grace period at once
            NullLogger<OutboxRelay>.Instance);
        await RelaySpans.StartRecordedAsync(relay);
        try
        {
            // About 25 idle polls, each of which used to record its statement.
            await Task.Delay(500, Token);
            Assert.Empty(recorded.Spans);

            // A job stored by a request of trace `traceId`, whose message was never confirmed: the relay publishes it.
            var traceId = ActivityTraceId.CreateRandom();
            const string inputs = """["great"]""";
            var job = Job.Queued(Guid.CreateVersion7(), "tester", "sentiment", JsonElement.Parse(inputs), DateTimeOffset.UtcNow);
            var admission = (await database.Store.AddAsync(
                [new JobToAdmit(job, inputs, int.MaxValue - 1, $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01")], Token))[0];
            var span = await recorded.WaitForAsync("relay outbox");

            Assert.Equal(1, span.GetTagItem("outbox.messages"));
            Assert.Contains(span.Links, link => link.Context.TraceId == traceId);
            // Published outside the relay's span, so that the message continues its own trace.
            Assert.Contains(publisher.Published, published => published.Message.Id == admission.Message!.Id && published.CurrentActivity is null);
            var statements = recorded.Spans.Where(s => s.Source.Name == "Npgsql").ToList();
            Assert.NotEmpty(statements); // marking the batch sent
            Assert.All(statements, statement => Assert.Equal(span.SpanId, statement.ParentSpanId));
            Assert.Single(recorded.Spans, s => s.DisplayName == "relay outbox");
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// A tracer provider (the Worker's own sources and Npgsql's, as ServiceDefaults and Aspire.Npgsql register them)
    /// that keeps only the spans of the flow it starts the relay in: other tests of this process use PostgreSQL too.
    /// </summary>
    private sealed class RelaySpans : IDisposable
    {
        private static readonly AsyncLocal<bool> InRelayFlow = new();
        private readonly Collector _collector = new();
        private readonly TracerProvider _provider;

        public RelaySpans() => _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(Telemetry.ActivitySourceName, "Npgsql").AddProcessor(_collector).Build();

        public IReadOnlyList<Activity> Spans => [.. _collector.Spans];

        public static async Task StartRecordedAsync(OutboxRelay relay)
        {
            InRelayFlow.Value = true;
            try
            {
                await relay.StartAsync(Token);
            }
            finally
            {
                InRelayFlow.Value = false;
            }
        }

        public async Task<Activity> WaitForAsync(string name)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            while (!Spans.Any(s => s.DisplayName == name))
            {
                await Task.Delay(20, deadline.Token);
            }

            return Spans.First(s => s.DisplayName == name);
        }

        public void Dispose() => _provider.Dispose(); // disposes the collector too

        private sealed class Collector : BaseProcessor<Activity>
        {
            public ConcurrentQueue<Activity> Spans { get; } = new();

            public override void OnEnd(Activity data)
            {
                if (InRelayFlow.Value)
                {
                    Spans.Enqueue(data);
                }
            }
        }
    }

    /// <summary>A broker that confirms everything, noting which activity was current at each publication.</summary>
    private sealed class RecordingPublisher : IMessagePublisher
    {
        public ConcurrentQueue<(OutboxMessage Message, Activity? CurrentActivity)> Published { get; } = new();

        public Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers, CancellationToken cancellationToken)
        {
            Published.Enqueue((message, Activity.Current));
            return Task.CompletedTask;
        }
    }

    /// <summary>The system clock, moved on: every message already stored is that much older.</summary>
    private sealed class LaterClock(TimeSpan ahead) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + ahead;
    }
}
