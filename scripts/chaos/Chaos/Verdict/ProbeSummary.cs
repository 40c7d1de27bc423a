using System.Globalization;

namespace Chaos.Verdict;

/// <summary>A stall probe's waits over the run: percentiles, the longest and when it began (the report's line and its JSON).</summary>
public static class ProbeSummary
{
    /// <summary>The figures of one probe's waits; no percentiles and no longest when it measured none.</summary>
    public sealed record Figures(int Waits, int Failed, TimeSpan? P50, TimeSpan? P99, ProbeSample? Longest);

    public static Figures Of(ProbeSeries series)
    {
        var latencies = series.Samples.Select(s => s.Latency).ToList();
        return new Figures(series.Samples.Count, series.Samples.Count(s => s.Failed), Latency.Percentile(latencies, 50),
            Latency.Percentile(latencies, 99), series.Samples.MaxBy(s => s.Latency));
    }

    public static string Line(ProbeSeries series)
    {
        if (Of(series) is not { Longest: { } longest } figures)
        {
            return $"{series.Name}: no waits measured";
        }

        var failures = figures.Failed == 0 ? "" : $", {figures.Failed} failed";
        return string.Create(CultureInfo.InvariantCulture,
            $"{series.Name}: p50 {Ms(figures.P50)} / p99 {Ms(figures.P99)} / longest {Ms(longest.Latency)} ms (from {longest.Started:HH:mm:ss.fff} UTC{(longest.Failed ? ", failed" : "")}) in {figures.Waits} waits{failures}");
    }

    /// <summary>Milliseconds, with a decimal below 10 (a synced write takes a fraction of one).</summary>
    internal static string Ms(TimeSpan? value) =>
        value is { } v ? v.TotalMilliseconds.ToString(v.TotalMilliseconds < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) : "—";
}
