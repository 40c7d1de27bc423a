using System.Diagnostics;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Worker.Messaging;

/// <summary>
/// Spans of the messages the Worker publishes and processes, after the OpenTelemetry messaging conventions
/// (<c>publish jobs</c>, <c>process jobs</c>, <c>messaging.*</c> attributes), and the W3C trace context they carry in
/// their headers: python-inference names its spans and reads the context the same way.
/// </summary>
internal static class MessagingTelemetry
{
    public const string System = "rabbitmq";
    public const string TraceParentHeader = "traceparent";
    public const string TraceStateHeader = "tracestate";

    private const string DefaultExchange = "amq.default";

    /// <summary>
    /// The destination a publication names: the exchange, or the queue when it goes through the default exchange
    /// (the routing key is then the queue's name).
    /// </summary>
    public static string DestinationOf(string exchange, string routingKey) =>
        exchange.Length > 0 ? exchange : routingKey.Length > 0 ? routingKey : DefaultExchange;

    /// <summary>
    /// A producer span for one publication, a child of <paramref name="parent"/> (by default the current span), or
    /// null when nobody listens.
    /// </summary>
    public static Activity? StartPublish(string exchange, string routingKey, string messageId, int bodySize,
        ActivityContext parent = default)
    {
        var destination = DestinationOf(exchange, routingKey);
        var activity = Telemetry.ActivitySource.StartActivity($"publish {destination}", ActivityKind.Producer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", System);
            activity.SetTag("messaging.operation.type", "send");
            activity.SetTag("messaging.operation.name", "publish");
            activity.SetTag("messaging.destination.name", destination);
            if (routingKey.Length > 0)
            {
                activity.SetTag("messaging.rabbitmq.destination.routing_key", routingKey);
            }

            activity.SetTag("messaging.message.id", messageId);
            activity.SetTag("messaging.message.body.size", bodySize);
        }

        return activity;
    }

    /// <summary>Writes the trace context of <paramref name="activity"/> (or the current one) into the message's headers.</summary>
    public static void Inject(Activity? activity, IDictionary<string, object?> headers)
    {
        if ((activity ?? Activity.Current) is not { IdFormat: ActivityIdFormat.W3C } context)
        {
            return;
        }

        headers[TraceParentHeader] = context.Id;
        if (!string.IsNullOrEmpty(context.TraceStateString))
        {
            headers[TraceStateHeader] = context.TraceStateString;
        }
    }

    /// <summary>
    /// The trace context a <c>traceparent</c> carried from elsewhere names (a request body, an outbox row, a delivery
    /// read back later), or <c>default</c> when there is none. Always remote: under a local parent that was not
    /// sampled OpenTelemetry creates no activity at all, so whatever followed went out without a traceparent and
    /// started traces of its own; under a remote one it keeps the context and its not-sampled decision.
    /// </summary>
    public static ActivityContext CarriedContext(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, isRemote: true, out var context) ? context : default;

    /// <summary>
    /// The current delivery span, of a message that carries several items (events, jobs), continues the first one's trace
    /// (the message's header); every other trace among <paramref name="traceParents"/> becomes a link.
    /// </summary>
    public static void LinkBatch(IReadOnlyCollection<string?> traceParents)
    {
        if (Activity.Current is not { IsAllDataRequested: true } process)
        {
            return;
        }

        process.SetTag("messaging.batch.message_count", traceParents.Count);
        foreach (var traceParent in traceParents)
        {
            if (CarriedContext(traceParent) is { TraceId: var traceId } context && context != default && traceId != process.TraceId)
            {
                process.AddLink(new ActivityLink(context));
            }
        }
    }

    /// <summary>A consumer span for handling one delivery from <paramref name="queue"/>, continuing the publisher's trace.</summary>
    public static Activity? StartProcess(string queue, BasicDeliverEventArgs delivery)
    {
        var headers = delivery.BasicProperties.Headers;
        ActivityContext.TryParse(HeaderText(headers, TraceParentHeader), HeaderText(headers, TraceStateHeader),
            isRemote: true, out var parent);
        var activity = Telemetry.ActivitySource.StartActivity($"process {queue}", ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", System);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.operation.name", "process");
            activity.SetTag("messaging.destination.name", queue);
            activity.SetTag("messaging.destination_publish.name", delivery.Exchange.Length > 0 ? delivery.Exchange : DefaultExchange);
            if (delivery.RoutingKey.Length > 0)
            {
                activity.SetTag("messaging.rabbitmq.destination.routing_key", delivery.RoutingKey);
            }

            if (delivery.BasicProperties.MessageId is { } messageId)
            {
                activity.SetTag("messaging.message.id", messageId);
            }

            activity.SetTag("messaging.message.body.size", delivery.Body.Length);
            activity.SetTag("messaging.rabbitmq.message.delivery_tag", (long)delivery.DeliveryTag);
            activity.SetTag("messaging.message.redelivered", delivery.Redelivered);
        }

        return activity;
    }

    // Header values arrive as bytes (AMQP long strings); a message published in this process may still hold strings.
    private static string? HeaderText(IDictionary<string, object?>? headers, string name) =>
        headers is not null && headers.TryGetValue(name, out var value)
            ? value switch
            {
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                string text => text,
                _ => null,
            }
            : null;
}
