namespace Chaos.Verdict;

/// <summary>Percentiles of latencies, by the nearest-rank method (the p99 of 100 samples is the 99th smallest).</summary>
public static class Latency
{
    public static TimeSpan? Percentile(IEnumerable<TimeSpan> latencies, double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var sorted = latencies.Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }

    /// <summary>The p99 of the requests of <paramref name="routes"/> (all when empty) that started inside <paramref name="window"/>.</summary>
    public static TimeSpan? P99(IEnumerable<RequestSample> samples, TimeWindow window, params string[] routes) =>
        Percentile(samples.Where(s => window.Contains(s.Started) && (routes.Length == 0 || routes.Contains(s.Route)))
            .Select(s => s.Latency), 99);

    /// <summary>
    /// Whether a route stayed flat under a fault: its p99 during the fault is at most <paramref name="factor"/> times its
    /// quiet p99, the quiet p99 counted as at least <paramref name="floor"/> (a 2 ms quiet p99 would make 5 ms "slow").
    /// No request during the fault is not flat: there was nothing to measure.
    /// </summary>
    public static bool StaysFlat(TimeSpan? quiet, TimeSpan? during, double factor, TimeSpan floor) =>
        quiet is { } q && during is { } d && d.Ticks <= factor * Math.Max(q.Ticks, floor.Ticks);
}
