using System.Collections.Concurrent;
using System.Diagnostics;
using Chaos.Verdict;

namespace Chaos.Load;

/// <summary>
/// One probe: a wait taken, timed and recorded, then the next after an interval, until stopped. A wait that should
/// take <paramref name="expected"/> (a timer's period) is recorded as how late it ended, from when it was due.
/// </summary>
public sealed class StallProbe(string name, Func<CancellationToken, Task> wait, TimeSpan expected = default)
{
    private readonly ConcurrentQueue<ProbeSample> _samples = new();

    public ProbeSeries Series => new(name, [.. _samples]);

    public async Task RunAsync(TimeSpan interval, TimeSpan waitLimit, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var started = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
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

            var late = clock.Elapsed - expected;
            _samples.Enqueue(new ProbeSample(started + expected, late > TimeSpan.Zero ? late : TimeSpan.Zero, failed));
            try
            {
                await Task.Delay(interval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
