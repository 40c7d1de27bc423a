using System.Collections.Concurrent;
using Chaos.Verdict;

namespace Chaos.Load;

/// <summary>
/// One probe: a wait taken, timed and recorded, then the next after an interval, until stopped. A wait that should
/// take <paramref name="expected"/> (a timer's period) is recorded as how late it ended, from when it was due.
/// </summary>
public sealed class StallProbe(string name, Func<CancellationToken, Task> wait, TimeSpan expected = default, TimeProvider? clock = null)
{
    private readonly ConcurrentQueue<ProbeSample> _samples = new();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private bool _clockJumps;

    public ProbeSeries Series => new(name, [.. _samples]);

    /// <summary>
    /// A probe of the machine rather than of a resource: a timer of <paramref name="period"/>, recorded as how far the
    /// wall clock moved past the monotonic one while it ran. When the whole machine is paused (a virtual machine
    /// snapshotted, suspended or moved), no process runs and the monotonic clock does not count the pause, but the wall
    /// clock is set forward when it resumes: every timestamp of the run skips that span, with nothing in it, and no
    /// other probe sees a wait. Each sample starts when its timer did; outside a pause it is 0 to within the clocks'
    /// drift (the wall clock set by hand or by a time server shows the same way).
    /// </summary>
    public static StallProbe ClockJumps(string name, TimeSpan period, TimeProvider? clock = null)
    {
        var time = clock ?? TimeProvider.System;
        return new StallProbe(name, cancellationToken => Task.Delay(period, time, cancellationToken), clock: time) { _clockJumps = true };
    }

    public async Task RunAsync(TimeSpan interval, TimeSpan waitLimit, CancellationToken cancellationToken)
    {
        var (started, timestamp) = (_clock.GetUtcNow(), _clock.GetTimestamp());
        while (!cancellationToken.IsCancellationRequested)
        {
            var failed = false;
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(waitLimit);
            try
            {
                await wait(limit.Token);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                failed = true; // the broker restarted, or the limit passed: the wait counts, as failed
            }

            var (ended, now) = (_clock.GetUtcNow(), _clock.GetTimestamp());
            var elapsed = _clock.GetElapsedTime(timestamp, now);
            _samples.Enqueue(_clockJumps
                ? new ProbeSample(started, Positive(ended - started - elapsed), failed)
                : new ProbeSample(started + expected, Positive(elapsed - expected), failed));
            try
            {
                await Task.Delay(interval, _clock, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // The clocks are compared from one reading to the next without a gap, so no pause falls between two samples.
            (started, timestamp) = _clockJumps ? (ended, now) : (_clock.GetUtcNow(), _clock.GetTimestamp());
        }
    }

    private static TimeSpan Positive(TimeSpan value) => value > TimeSpan.Zero ? value : TimeSpan.Zero;
}
