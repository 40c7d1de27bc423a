using System.Collections.Concurrent;

namespace Worker.Tests.Webhooks;

/// <summary>
/// The system clock, except that it records every timer the sender starts (its back-off waits and attempt
/// timeouts) and holds back those of <see cref="HoldFrom"/> or longer until the test releases them: a test
/// then decides when an attempt times out, or acts once the sender is waiting to retry, instead of racing a
/// wall clock on a loaded machine.
/// </summary>
internal sealed class TestClock(TimeSpan? holdFrom = null) : TimeProvider
{
    private readonly ConcurrentQueue<TimeSpan> _started = new();
    private readonly ConcurrentQueue<HeldTimer> _held = new();
    private readonly TaskCompletionSource _holding = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TimeSpan HoldFrom { get; } = holdFrom ?? Timeout.InfiniteTimeSpan;

    /// <summary>The due time of every timer started, in order.</summary>
    public IReadOnlyList<TimeSpan> Started => [.. _started];

    /// <summary>Completes when the first timer is held back.</summary>
    public Task Holding => _holding.Task;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _started.Enqueue(dueTime);
        if (HoldFrom == Timeout.InfiniteTimeSpan || dueTime < HoldFrom)
        {
            return System.CreateTimer(callback, state, dueTime, period);
        }

        var timer = new HeldTimer(callback, state);
        _held.Enqueue(timer);
        _holding.TrySetResult();
        return timer;
    }

    /// <summary>Fires every held timer now (once), as if its time had come.</summary>
    public void ReleaseHeld()
    {
        while (_held.TryDequeue(out var timer))
        {
            timer.Fire();
        }
    }

    private sealed class HeldTimer(TimerCallback callback, object? state) : ITimer
    {
        private int _done;

        public void Fire()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                callback(state);
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period) => Volatile.Read(ref _done) == 0;

        public void Dispose() => Interlocked.Exchange(ref _done, 1);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
