using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Worker.Messaging;

namespace Worker.Tests.Messaging;

/// <summary>
/// A message that carries several jobs or events is processed in one span: it continues the first item's trace (the
/// message's header) and links every other trace among its items, once each.
/// </summary>
public sealed class BatchDeliveryTracingTests
{
    [Fact]
    public void The_delivery_span_of_several_items_links_the_traces_after_its_own()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == Telemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        var first = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01";
        var second = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        using var process = Telemetry.ActivitySource.StartActivity("process jobs", ActivityKind.Consumer,
            MessagingTelemetry.CarriedContext(first));

        MessagingTelemetry.LinkBatch([first, $"00-{second.TraceId}-{second.SpanId}-01", null, "not a traceparent"]);

        Assert.Equal(4, process!.GetTagItem("messaging.batch.message_count"));
        var link = Assert.Single(process.Links);
        Assert.Equal((second.TraceId, second.SpanId), (link.Context.TraceId, link.Context.SpanId));
    }
}
