using System.Diagnostics;
using System.Threading.Channels;
using Gateway.Application;

namespace Gateway.Upstream.Inference.Batching;

/// <summary>
/// One model's callers and the loop that turns them into batch calls: a batch leaves when it is full, when its
/// first caller has waited <see cref="ModelBatching.MaxWait"/>, or — while every one of the
/// <c>MaxConcurrentBatches</c> calls is busy — as soon as one returns, with whatever queued meanwhile.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001",
    Justification = "The semaphore never allocates a wait handle; the queue lives as long as the gateway.")]
internal sealed partial class ModelBatchQueue
{
    private readonly string _model;
    private readonly ModelBatching _settings;
    private readonly Func<IInferenceClient> _transport;
    private readonly BatchingMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<PendingPrediction> _queue;
    private readonly SemaphoreSlim _slots;
    private readonly TimeSpan _maxQueueWait;
    private readonly CancellationToken _stopping;

    public ModelBatchQueue(string model, ModelBatching settings, int queueLimit, TimeSpan maxQueueWait, int maxConcurrentBatches,
        Func<IInferenceClient> transport, BatchingMetrics metrics, TimeProvider time, ILogger logger, CancellationToken stopping)
    {
        (_model, _settings, _maxQueueWait, _transport, _metrics, _time, _logger, _stopping) =
            (model, settings, maxQueueWait, transport, metrics, time, logger, stopping);
        _queue = Channel.CreateBounded<PendingPrediction>(new BoundedChannelOptions(queueLimit)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once: the caller gets a 503
        });
        _slots = new SemaphoreSlim(maxConcurrentBatches, maxConcurrentBatches);
        // The loop belongs to no request: without the first caller's execution context, its spans start no trace of
        // that caller's and Activity.Current stays null between batches.
        using (ExecutionContext.SuppressFlow())
        {
            Loop = Task.Run(RunAsync, CancellationToken.None);
        }
    }

    public Task Loop { get; }

    /// <summary>
    /// Queues <paramref name="pending"/>, unless the queue is full or its oldest caller has already waited
    /// <c>MaxQueueWait</c>: the batches are then not keeping up (python-inference is slow or saturated), and a caller
    /// refused now can retry elsewhere or later instead of holding its request open until its deadline.
    /// </summary>
    public QueueRefusal TryEnqueue(PendingPrediction pending)
    {
        if (_queue.Reader.TryPeek(out var oldest) && _time.GetElapsedTime(oldest.EnqueuedAt) > _maxQueueWait)
        {
            _metrics.Rejected(_model, QueueRefusal.Behind);
            return QueueRefusal.Behind;
        }

        if (!_queue.Writer.TryWrite(pending))
        {
            _metrics.Rejected(_model, QueueRefusal.Full);
            return QueueRefusal.Full;
        }

        _metrics.Enqueued(_model);
        return QueueRefusal.None;
    }

    private async Task RunAsync()
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stopping))
            {
                await _slots.WaitAsync(_stopping);
                var batch = await CollectAsync();
                if (batch.Count == 0)
                {
                    _slots.Release();
                    continue;
                }

                _ = SendAndReleaseAsync(batch);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var left))
            {
                _metrics.Dequeued(_model);
                left.Complete(BatchFailures.Stopping());
            }
        }
    }

    /// <summary>Callers for one batch: what has queued, then more until it is full or the first has waited long enough.</summary>
    private async Task<List<PendingPrediction>> CollectAsync()
    {
        var batch = new List<PendingPrediction>(_settings.MaxBatchSize);
        Take(batch);
        while (batch.Count > 0 && batch.Count < _settings.MaxBatchSize)
        {
            var remaining = _settings.MaxWait - _time.GetElapsedTime(batch[0].EnqueuedAt);
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            var more = _queue.Reader.WaitToReadAsync(_stopping).AsTask();
            if (await Task.WhenAny(more, Task.Delay(remaining, _time, _stopping)) != more || !await more)
            {
                _stopping.ThrowIfCancellationRequested();
                break;
            }

            Take(batch);
        }

        return batch;
    }

    private void Take(List<PendingPrediction> batch)
    {
        while (batch.Count < _settings.MaxBatchSize && _queue.Reader.TryRead(out var pending))
        {
            _metrics.Dequeued(_model);
            if (!pending.IsDone) // a caller that went away is dropped here
            {
                batch.Add(pending);
            }
        }
    }

    private async Task SendAndReleaseAsync(List<PendingPrediction> batch)
    {
        try
        {
            foreach (var pending in batch)
            {
                _metrics.Waited(_model, _time.GetElapsedTime(pending.EnqueuedAt));
            }

            await SendAsync(batch);
        }
        catch (Exception exception)
        {
            // A bug, not an upstream failure (those are outcomes): nobody may be left waiting because of it.
            LogBatchFailed(_logger, _model, exception);
            foreach (var pending in batch)
            {
                pending.Complete(BatchFailures.Mismatched(batch.Count, 0));
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>One batch call, its answer fanned out; a failure retried split or given to every caller.</summary>
    private async Task SendAsync(IReadOnlyList<PendingPrediction> members)
    {
        members = [.. members.Where(pending => !pending.IsDone)];
        if (members.Count == 0)
        {
            return;
        }

        _metrics.BatchSent(_model, members.Count);
        var outcome = await CallAsync(members);
        if (outcome is null)
        {
            return; // every caller went away
        }

        if (outcome.Problem is not { } problem)
        {
            var answer = outcome.Value!;
            if (answer.Predictions.Count != members.Count)
            {
                var mismatch = BatchFailures.Mismatched(members.Count, answer.Predictions.Count);
                foreach (var pending in members)
                {
                    pending.Complete(BatchFailures.CopyOf(mismatch));
                }

                return;
            }

            for (var i = 0; i < members.Count; i++)
            {
                members[i].Complete(Outcome.Success(answer with { Predictions = [answer.Predictions[i]] }));
            }

            return;
        }

        if (BatchFailures.SplitFor(problem, members) is { } parts)
        {
            await Task.WhenAll(parts.Select(SendAsync));
            return;
        }

        foreach (var pending in members)
        {
            pending.Complete(members.Count == 1 ? problem : BatchFailures.CopyOf(problem));
        }
    }

    /// <summary>The upstream call under the batch's span; null when every caller went away before it answered.</summary>
    private async Task<Outcome<PredictionResponse>?> CallAsync(IReadOnlyList<PendingPrediction> members)
    {
        // The batch span continues the first caller's trace, so a lone prediction still reads as one trace from the
        // gateway into python-inference; every caller's span and the batch span link to each other.
        var links = members.Where(pending => pending.Span is not null).Select(pending => new ActivityLink(pending.Span!.Context));
        using var span = Telemetry.ActivitySource.StartActivity($"inference batch {_model}", ActivityKind.Internal,
            BatchParent(members), [new("ml.model.name", _model), new("ml.batch.size", members.Count)], links);
        if (span is not null)
        {
            foreach (var pending in members)
            {
                pending.Span?.AddLink(new ActivityLink(span.Context));
                pending.Span?.SetTag("ml.batch.size", members.Count);
            }
        }

        // The call is abandoned once nobody waits for it any more.
        using var everyoneGone = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        _ = Task.WhenAll(members.Select(pending => pending.Answer)).ContinueWith(static (answers, state) =>
        {
            if (answers.IsCanceled)
            {
                try
                {
                    ((CancellationTokenSource)state!).Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }, everyoneGone, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        try
        {
            return await _transport().PredictAsync(
                new PredictionRequest(_model, [.. members.Select(pending => pending.Input)]), everyoneGone.Token);
        }
        catch (OperationCanceledException) when (everyoneGone.IsCancellationRequested)
        {
            if (_stopping.IsCancellationRequested)
            {
                foreach (var pending in members)
                {
                    pending.Complete(BatchFailures.Stopping());
                }
            }

            return null;
        }
    }

    /// <summary>The trace the batch call joins (<see cref="BatchTracing.ParentOf"/>).</summary>
    internal static ActivityContext BatchParent(IReadOnlyList<PendingPrediction> members) =>
        BatchTracing.ParentOf([.. members.Select(pending => pending.Trace)]);

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of model {Model} failed unexpectedly.")]
    private static partial void LogBatchFailed(ILogger logger, string model, Exception exception);
}

/// <summary>Why a caller was not queued.</summary>
internal enum QueueRefusal
{
    None,

    /// <summary>As many callers wait as the queue holds.</summary>
    Full,

    /// <summary>The oldest caller has waited longer than <c>MaxQueueWait</c>: the batches are not keeping up.</summary>
    Behind,
}
