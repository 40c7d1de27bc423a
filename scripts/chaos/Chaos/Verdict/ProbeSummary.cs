using System.Globalization;

namespace Chaos.Verdict;

/// <summary>A stall probe's waits over the run in one line of the report: percentiles, the longest and when it began.</summary>
public static class ProbeSummary
{
    public static string Line(ProbeSeries series)
    {
        if (series.Samples.Count == 0)
        {
            return $"{series.Name}: no waits measured";
        }

        var latencies = series.Samples.Select(s => s.Latency).ToList();
        var longest = series.Samples.MaxBy(s => s.Latency)!;
        var failed = series.Samples.Count(s => s.Failed);
        var failures = failed == 0 ? "" : $", {failed} failed";
        return string.Create(CultureInfo.InvariantCulture,
            $"{series.Name}: p50 {Ms(Latency.Percentile(latencies, 50))} / p99 {Ms(Latency.Percentile(latencies, 99))} / longest {Ms(longest.Latency)} ms (from {longest.Started:HH:mm:ss.fff} UTC{(longest.Failed ? ", failed" : "")}) in {series.Samples.Count} waits{failures}");
    }

    /// <summary>Milliseconds, with a decimal below 10 (a synced write takes a fraction of one).</summary>
    internal static string Ms(TimeSpan? value) =>
        value is { } v ? v.TotalMilliseconds.ToString(v.TotalMilliseconds < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) : "—";
}
