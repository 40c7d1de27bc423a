using System.Diagnostics.Metrics;

namespace Gateway.Upstream.Inference.Batching;

/// <summary>
/// What the batcher reports on the services' meter (<see cref="Telemetry.MeterName"/>, exported by ServiceDefaults'
/// OpenTelemetry set-up, so it shows in the dashboard): how full batches are, how long callers wait, how many wait.
/// </summary>
public sealed class BatchingMetrics
{
    public const string BatchSizeName = "gateway.inference.batch.size";
    public const string QueueWaitName = "gateway.inference.batch.queue_wait";
    public const string QueueDepthName = "gateway.inference.batch.queue_depth";
    public const string RejectedName = "gateway.inference.batch.rejected";

    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _queueWait;
    private readonly UpDownCounter<long> _queueDepth;
    private readonly Counter<long> _rejected;

    public BatchingMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Telemetry.MeterName);
        _batchSize = meter.CreateHistogram(BatchSizeName, "{input}", "Inputs per batch call to python-inference.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
        _queueWait = meter.CreateHistogram(QueueWaitName, "s", "Time a caller waited in the queue before its batch was sent.",
            advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
            });
        _queueDepth = meter.CreateUpDownCounter<long>(QueueDepthName, "{request}", "Callers waiting for a batch.");
        _rejected = meter.CreateCounter<long>(RejectedName, "{request}", "Callers refused at once, by reason: the queue was full, or behind (its oldest caller had waited too long).");
    }

    public void Enqueued(string model) => _queueDepth.Add(1, Tag(model));

    public void Dequeued(string model) => _queueDepth.Add(-1, Tag(model));

    internal void Rejected(string model, QueueRefusal reason) =>
        _rejected.Add(1, Tag(model), new("reason", reason == QueueRefusal.Full ? "full" : "behind"));

    public void BatchSent(string model, int size) => _batchSize.Record(size, Tag(model));

    public void Waited(string model, TimeSpan wait) => _queueWait.Record(wait.TotalSeconds, Tag(model));

    private static KeyValuePair<string, object?> Tag(string model) => new("ml.model.name", model);
}
