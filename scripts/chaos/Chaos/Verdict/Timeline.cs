using System.Globalization;
using System.Text;

namespace Chaos.Verdict;

/// <summary>
/// The load, slice by slice, around one instant: for the report of a 5xx outside a fault window, to tell a stall of
/// python-inference (predictions slow, job routes not) from one of the gateway or the machine (everything slow).
/// </summary>
public static class Timeline
{
    /// <summary>One slice: its start from the instant, and per route group what started in it and how it went.</summary>
    public sealed record Slice(TimeSpan From, RouteSlice Predictions, RouteSlice Jobs);

    /// <summary>
    /// Requests that started in the slice, how many of them got a 5xx or no answer, their p50 and slowest latency,
    /// and how many of the route's requests were in flight (started, not yet answered) when the slice began.
    /// </summary>
    public sealed record RouteSlice(int Started, int ServerFailures, TimeSpan? P50, TimeSpan? Slowest, int InFlight);

    public static IReadOnlyList<Slice> Around(IReadOnlyCollection<RequestSample> samples, DateTimeOffset instant,
        TimeSpan before, TimeSpan after, TimeSpan step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(step, TimeSpan.Zero);
        var predictions = samples.Where(s => s.Route == Routes.Predict).ToList();
        var jobs = samples.Where(s => s.Route != Routes.Predict).ToList();
        var slices = new List<Slice>();
        for (var from = -before; from < after; from += step)
        {
            var window = new TimeWindow(instant + from, instant + from + step);
            slices.Add(new Slice(from, Of(predictions, window), Of(jobs, window)));
        }

        return slices;
    }

    /// <summary>The slices as a Markdown table (milliseconds; "—" where nothing started).</summary>
    public static string Table(IEnumerable<Slice> slices)
    {
        var text = new StringBuilder();
        text.AppendLine("| from (s) | predictions started | 5xx | in flight | p50 / slowest (ms) | job requests started | 5xx | in flight | p50 / slowest (ms) |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var s in slices)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.From.TotalSeconds:+0.00;-0.00;0.00} | {Cells(s.Predictions)} | {Cells(s.Jobs)} |");
        }

        return text.ToString();
    }

    private static RouteSlice Of(List<RequestSample> samples, TimeWindow window)
    {
        var started = samples.Where(s => window.Contains(s.Started)).ToList();
        var inFlight = samples.Count(s => s.Started < window.Start && s.Started + s.Latency > window.Start);
        var latencies = started.Select(s => s.Latency).ToList();
        return new RouteSlice(started.Count, started.Count(s => s.IsServerFailure), Latency.Percentile(latencies, 50),
            latencies.Count == 0 ? null : latencies.Max(), inFlight);
    }

    private static string Cells(RouteSlice r) =>
        $"{r.Started} | {r.ServerFailures} | {r.InFlight} | {Ms(r.P50)} / {Ms(r.Slowest)}";

    private static string Ms(TimeSpan? value) =>
        value is { } v ? v.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) : "—";
}
