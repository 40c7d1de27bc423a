using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Worker.Events;
using Worker.Jobs;
using Worker.Messaging;

namespace Worker.Tests.Messaging;

/// <summary>
/// The span of a publication, on a real RabbitMQ (<see cref="LocalBroker"/>): the outbox relay publishes outside any
/// trace, so a message continues the trace of the span that wrote it, its publication a direct child of that span;
/// published inside a span, it is that span's child. Either way the message's <c>traceparent</c> names the
/// publication's span, which the consumer's span continues.
/// </summary>
public sealed class PublisherTracingTests(QueueLimitTests.Broker broker) : IClassFixture<QueueLimitTests.Broker>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_relayed_message_is_published_in_one_span_that_continues_the_trace_that_wrote_it()
    {
        var (messaging, queue) = await DeclareAsync();
        var writer = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        var message = Completed(messaging) with { TraceParent = $"00-{writer.TraceId}-{writer.SpanId}-01" };
        using var spans = new WorkerSpans();

        Assert.Null(Activity.Current); // as the relay publishes
        await using (var publisher = broker.Publisher(messaging))
        {
            await publisher.PublishAsync(message, null, Token);
        }

        var publish = Assert.Single(spans.Of(writer.TraceId));
        Assert.Equal($"publish {messaging.EventsExchange}", publish.DisplayName);
        Assert.Equal(ActivityKind.Producer, publish.Kind);
        Assert.Equal(writer.SpanId, publish.ParentSpanId);
        Assert.Equal(publish.Id, await TraceParentInAsync(queue));
    }

    [Fact]
    public async Task A_relayed_message_of_a_trace_that_was_not_sampled_carries_that_decision_to_its_consumers()
    {
        var (messaging, queue) = await DeclareAsync();
        var writer = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None);
        var message = Completed(messaging) with { TraceParent = $"00-{writer.TraceId}-{writer.SpanId}-00" };
        // Production's sampler: a sampled-out trace stays out in every service, if its decision travels.
        using var tracing = ProductionSampling.Start();

        Assert.Null(Activity.Current); // as the relay publishes
        await using (var publisher = broker.Publisher(messaging))
        {
            await publisher.PublishAsync(message, null, Token);
        }

        // Without it the consumers, seeing no parent, started a trace of their own and kept one in ten of them.
        var traceParent = await TraceParentInAsync(queue);
        Assert.NotNull(traceParent);
        Assert.True(ActivityContext.TryParse(traceParent, null, out var sent), traceParent);
        Assert.Equal(writer.TraceId, sent.TraceId);
        Assert.Equal(ActivityTraceFlags.None, sent.TraceFlags);
    }

    [Fact]
    public async Task A_message_published_inside_a_span_is_published_in_a_child_of_that_span()
    {
        var (messaging, queue) = await DeclareAsync();
        using var spans = new WorkerSpans();
        ActivityTraceId traceId;
        ActivitySpanId parentId;

        await using (var publisher = broker.Publisher(messaging))
        using (var request = Telemetry.ActivitySource.StartActivity("request"))
        {
            Assert.NotNull(request);
            (traceId, parentId) = (request.TraceId, request.SpanId);
            // A stored trace parent of another trace does not take the publication out of the current one.
            var other = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01";
            await publisher.PublishAsync(Completed(messaging) with { TraceParent = other }, null, Token);
        }

        var publish = Assert.Single(spans.Of(traceId), span => span.Kind == ActivityKind.Producer);
        Assert.Equal(parentId, publish.ParentSpanId);
        Assert.Equal(publish.Id, await TraceParentInAsync(queue));
    }

    private static Worker.Messaging.Outbox.OutboxMessage Completed(MessagingOptions messaging) =>
        JobEvents.Completed(
            Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse("""["fine"]"""), DateTimeOffset.UtcNow),
            JsonElement.Parse("""{"version":"1.0.0"}"""), messaging, DateTimeOffset.UtcNow);

    private async Task<(MessagingOptions Messaging, string Queue)> DeclareAsync()
    {
        var messaging = new MessagingOptions
        {
            EventsExchange = $"events-{Guid.NewGuid():N}",
            EventsDeadLetterQueue = $"events-dead-{Guid.NewGuid():N}",
            PublishTimeout = TimeSpan.FromSeconds(10),
        };
        var queue = $"audit-{Guid.NewGuid():N}";
        await using var channel = await broker.Connection.CreateChannelAsync(cancellationToken: Token);
        await MessagingTopology.DeclareEventQueueAsync(channel, messaging, queue, routingKeys: null, Token);
        return (messaging, queue);
    }

    private async Task<string?> TraceParentInAsync(string queue)
    {
        await using var channel = await broker.Connection.CreateChannelAsync(cancellationToken: Token);
        var delivered = await channel.BasicGetAsync(queue, autoAck: true, Token);
        Assert.NotNull(delivered);
        return delivered.BasicProperties.Headers?.TryGetValue(MessagingTelemetry.TraceParentHeader, out var value) == true
            && value is byte[] bytes
            ? Encoding.UTF8.GetString(bytes)
            : null;
    }

    /// <summary>The Worker's spans as they end (other tests of this process record theirs too: filter by trace).</summary>
    private sealed class WorkerSpans : IDisposable
    {
        private readonly ConcurrentQueue<Activity> _ended = new();
        private readonly ActivityListener _listener;

        public WorkerSpans()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == Telemetry.ActivitySourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _ended.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public IReadOnlyList<Activity> Of(ActivityTraceId traceId) => [.. _ended.Where(span => span.TraceId == traceId)];

        public void Dispose() => _listener.Dispose();
    }
}
