using System.Collections.Concurrent;
using System.Diagnostics;
using Chaos.Verdict;

namespace Chaos.Load;

/// <summary>One probe: a wait taken, timed and recorded, then the next after an interval, until stopped.</summary>
public sealed class StallProbe(string name, Func<CancellationToken, Task> wait)
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

            _samples.Enqueue(new ProbeSample(started, clock.Elapsed, failed));
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
