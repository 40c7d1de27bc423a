using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Gateway.Application;
using Microsoft.Extensions.Options;

namespace Gateway.Upstream.Inference.Batching;

/// <summary>
/// Dynamic batching in front of python-inference: concurrent single-input predictions of one model wait a moment in
/// a bounded queue and leave as one batch call (the model answers 100 inputs almost as fast as one). Each caller gets
/// exactly its own prediction, its own problem, or a 503 at once when the queue is full.
/// </summary>
public sealed class PredictionBatcher : IDisposable
{
    private readonly Func<IInferenceClient> _transport;
    private readonly PredictionBatchingOptions _options;
    private readonly BatchingMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<PredictionBatcher> _logger;
    private readonly ConcurrentDictionary<string, Lazy<ModelBatchQueue>> _queues = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>A batcher whose batch calls go to <c>transport()</c>, asked once per call.</summary>
    public PredictionBatcher(Func<IInferenceClient> transport, IOptions<PredictionBatchingOptions> options,
        BatchingMetrics metrics, TimeProvider time, ILogger<PredictionBatcher> logger)
    {
        (_transport, _options, _metrics, _time, _logger) = (transport, options.Value, metrics, time, logger);
    }

    /// <summary>Whether a request goes through a batch: one input, for a model whose batching is on.</summary>
    public bool Batches(PredictionRequest request) =>
        request is { Model: { } model, Inputs.Count: 1 } && _options.For(model).Enabled;

    /// <summary>One input's prediction, answered from a batch call shared with the model's other callers.</summary>
    public async Task<Outcome<PredictionResponse>> PredictAsync(string model, JsonElement input, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var queue = _queues.GetOrAdd(model, name => new Lazy<ModelBatchQueue>(() => new ModelBatchQueue(name,
            _options.For(name), _options.QueueLimit, _options.MaxQueueWait, _options.MaxConcurrentBatches, _transport, _metrics, _time,
            _logger, _stopping.Token))).Value;

        using var span = Telemetry.ActivitySource.StartActivity($"predict {model} batched", ActivityKind.Internal);
        span?.SetTag("ml.model.name", model);
        var pending = new PendingPrediction(input, span, _time.GetTimestamp());
        switch (queue.TryEnqueue(pending))
        {
            case QueueRefusal.Full:
                span?.SetStatus(ActivityStatusCode.Error, "queue full");
                return BatchFailures.QueueFull(model, _options.RetryAfter);
            case QueueRefusal.Behind:
                span?.SetStatus(ActivityStatusCode.Error, "queue behind");
                return BatchFailures.QueueBehind(model, _options.MaxQueueWait, _options.RetryAfter);
        }

        using var registration = cancellationToken.UnsafeRegister(
            static (state, token) => ((PendingPrediction)state!).Abandon(token), pending);
        return await pending.Answer;
    }

    public void Dispose()
    {
        // Not disposed: the queues' loops and calls still hold its token while they finish.
        _stopping.Cancel();
    }
}
