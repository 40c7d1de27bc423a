using System.Threading.Channels;

namespace Worker.Batching;

/// <summary>
/// Group commit: callers that arrive while a batch is being handled are handled together in the next one, by one
/// call of the batch handler (one transaction, one model call), and each gets its own result. There is no waiting
/// window: an idle queue handles a lone caller at once, a busy one gathers everything that arrived meanwhile, up to
/// <c>maxBatchSize</c>. When a batch fails as a whole, each of its items is handled again on its own, so one bad
/// item fails alone. A full queue makes callers wait (it is the back-pressure).
/// <para>
/// With several handlers, a free handler does not start a batch while the latest one at work started less than
/// <c>overlapAfter</c> ago: what arrives meanwhile waits to go together in one batch, so batches stay as large as one
/// handler would make them. Only a batch that runs longer (a slow or stuck call) lets the next one start beside it.
/// </para>
/// </summary>
internal sealed class BatchQueue<TItem, TResult> : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> _handle;
    private readonly Channel<Pending> _queue;
    private readonly int _maxBatchSize;
    private readonly int _handlers;
    private readonly TimeSpan _overlapAfter;
    private readonly TimeProvider _clock;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _startLock = new();
    private readonly Lock _runningLock = new();
    private readonly Lock _drainLock = new();
    private readonly List<long> _runningSince = [];
    private TaskCompletionSource _batchEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task[]? _loops;
    private int _disposed;
    private long _batches;

    /// <param name="handle">Handles a batch; returns one result per item, in order, or throws for the whole batch.</param>
    /// <param name="maxBatchSize">The most items one call of <paramref name="handle"/> gets.</param>
    /// <param name="handlers">How many batches may be handled at once.</param>
    /// <param name="overlapAfter">
    /// How long the latest batch at work holds the next one back (zero: a free handler starts at once).
    /// </param>
    /// <param name="clock">Measures <paramref name="overlapAfter"/>; the system clock by default.</param>
    public BatchQueue(Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> handle,
        int maxBatchSize, int handlers = 1, TimeSpan overlapAfter = default, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(handlers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(overlapAfter, TimeSpan.Zero);
        _handle = handle;
        _maxBatchSize = maxBatchSize;
        _handlers = handlers;
        _overlapAfter = overlapAfter;
        _clock = clock ?? TimeProvider.System;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(maxBatchSize * handlers * 4)
        {
            SingleWriter = false,
            SingleReader = handlers == 1,
        });
    }

    /// <summary>How many batches were handled (whole batches, not their items' retries alone).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>
    /// Queues <paramref name="item"/> and completes with its result once its batch was handled. A caller that gives
    /// up before its batch starts is left out of it; one that gives up later gets no answer, though its item may
    /// have been handled.
    /// </summary>
    public async Task<TResult> EnqueueAsync(TItem item, CancellationToken cancellationToken)
    {
        EnsureStarted();
        return await WriteAndWaitAsync(Pending.Awaited(item, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Queues <paramref name="items"/> together: a batch that takes the first of them takes the others too (up to its
    /// size), where separate calls of <see cref="EnqueueAsync"/> may be split by a handler that starts between them. One
    /// task per item, in order, as <see cref="EnqueueAsync"/>'s. Items the full queue has no room for now wait for it,
    /// and then go on their own.
    /// </summary>
    public Task<TResult>[] EnqueueTogether(IReadOnlyList<TItem> items, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var pendings = items.Select(item => Pending.Awaited(item, cancellationToken)).ToArray();
        var queued = 0;
        lock (_drainLock) // a handler drains the queue under the same lock: it sees all of them or none
        {
            while (queued < pendings.Length && _queue.Writer.TryWrite(pendings[queued]))
            {
                queued++;
            }
        }

        return [.. pendings.Select((pending, i) => i < queued
            ? pending.Result.Task.WaitAsync(cancellationToken)
            : WriteAndWaitAsync(pending, cancellationToken))];
    }

    /// <summary>Queues <paramref name="pending"/> (a full queue makes the caller wait) and waits for its result.</summary>
    private async Task<TResult> WriteAndWaitAsync(Pending pending, CancellationToken cancellationToken)
    {
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Result.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Queues <paramref name="item"/> without waiting for its batch: completes once it is queued (a full queue makes
    /// the caller wait, as for <see cref="EnqueueAsync"/>). Its result, or failure, goes unread.
    /// </summary>
    public async ValueTask PostAsync(TItem item, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var result = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = result.Task.ContinueWith(static task => task.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await _queue.Writer.WriteAsync(new Pending(item, result, CancellationToken.None), cancellationToken);
    }

    private void EnsureStarted()
    {
        if (Volatile.Read(ref _loops) is not null)
        {
            return;
        }

        lock (_startLock)
        {
            // Without the first caller's execution context: a batch must not run inside that caller's trace span.
            using (ExecutionContext.SuppressFlow())
            {
                _loops ??= [.. Enumerable.Range(0, _handlers).Select(_ => Task.Run(() => HandleBatchesAsync(_stopping.Token)))];
            }
        }
    }

    private async Task HandleBatchesAsync(CancellationToken stopping)
    {
        var batch = new List<Pending>(_maxBatchSize);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stopping))
            {
                var since = await TakeTurnAsync(stopping);
                try
                {
                    batch.Clear();
                    lock (_drainLock)
                    {
                        while (batch.Count < _maxBatchSize && _queue.Reader.TryRead(out var pending))
                        {
                            if (pending.CallerGaveUp.IsCancellationRequested)
                            {
                                pending.Result.TrySetCanceled(pending.CallerGaveUp);
                            }
                            else
                            {
                                batch.Add(pending);
                            }
                        }
                    }

                    if (batch.Count > 0)
                    {
                        Interlocked.Increment(ref _batches);
                        await HandleAsync(batch, stopping);
                    }
                }
                finally
                {
                    EndTurn(since);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            foreach (var pending in batch)
            {
                pending.Result.TrySetCanceled(stopping);
            }
        }
    }

    /// <summary>
    /// Waits until this handler may start a batch: none at work, or the latest one started at least
    /// <c>overlapAfter</c> ago. Returns the turn's start, for <see cref="EndTurn"/>.
    /// </summary>
    private async Task<long> TakeTurnAsync(CancellationToken stopping)
    {
        while (true)
        {
            Task ended;
            TimeSpan wait;
            lock (_runningLock)
            {
                var now = _clock.GetTimestamp();
                wait = _runningSince.Count == 0 ? TimeSpan.Zero : _overlapAfter - _clock.GetElapsedTime(_runningSince.Max(), now);
                if (wait <= TimeSpan.Zero)
                {
                    _runningSince.Add(now);
                    return now;
                }

                ended = _batchEnded.Task;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            await Task.WhenAny(ended, Task.Delay(wait, _clock, timeout.Token));
            await timeout.CancelAsync();
            stopping.ThrowIfCancellationRequested();
        }
    }

    private void EndTurn(long since)
    {
        TaskCompletionSource ended;
        lock (_runningLock)
        {
            _runningSince.Remove(since);
            (ended, _batchEnded) = (_batchEnded, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        ended.TrySetResult();
    }

    private async Task HandleAsync(List<Pending> batch, CancellationToken stopping)
    {
        try
        {
            var results = await _handle([.. batch.Select(pending => pending.Item)], stopping);
            if (results.Count != batch.Count)
            {
                throw new InvalidOperationException($"The batch handler answered {results.Count} results for {batch.Count} items.");
            }

            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(results[i]);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception) when (batch.Count > 1)
        {
            // Nothing of the batch took effect (one transaction, one call): each item again alone, so only the
            // item that fails gets the failure.
            foreach (var pending in batch)
            {
                await HandleAsync([pending], stopping);
            }
        }
        catch (Exception exception)
        {
            batch[0].Result.TrySetException(exception);
        }
    }

    /// <summary>Stops the handlers and cancels what waits; a second call does nothing (a host may stop its services twice).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _queue.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (_loops is { } loops)
        {
            await Task.WhenAll(loops);
        }

        while (_queue.Reader.TryRead(out var pending))
        {
            pending.Result.TrySetCanceled();
        }

        _stopping.Dispose();
    }

    private sealed record Pending(TItem Item, TaskCompletionSource<TResult> Result, CancellationToken CallerGaveUp)
    {
        /// <summary>An item whose caller waits for its result and may give up with <paramref name="callerGaveUp"/>.</summary>
        public static Pending Awaited(TItem item, CancellationToken callerGaveUp) =>
            new(item, new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously), callerGaveUp);
    }
}
