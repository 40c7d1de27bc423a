using System.Diagnostics.Metrics;

namespace Worker.Webhooks;

/// <summary><c>webhooks.deliveries</c>: every handled webhook delivery, by what became of it.</summary>
public sealed class WebhookMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _deliveries = meters.Create(Telemetry.MeterName).CreateCounter<long>(
        "webhooks.deliveries", "{delivery}",
        "Webhook deliveries by outcome: delivered, retry (to a delay queue), deferred (the host was busy), refused, failed.");

    public void Record(string outcome) =>
        _deliveries.Add(1, new KeyValuePair<string, object?>("webhook.outcome", outcome));
}
