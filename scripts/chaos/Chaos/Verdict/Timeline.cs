using System.Globalization;
using System.Text;

namespace Chaos.Verdict;

/// <summary>
/// The load, slice by slice, around one instant: for the report of a 5xx outside a fault window, to tell a stall of
/// python-inference (predictions slow, job routes not) from one of the gateway or the machine (everything slow), and
/// with the stall probes' waits beside them, one of the disk, the broker or the database's write lock (job routes slow
/// with one of them).
/// </summary>
public static class Timeline
{
    /// <summary>One slice: its start from the instant, and per route group what started in it and how it went.</summary>
    public sealed record Slice(TimeSpan From, RouteSlice Predictions, RouteSlice Jobs)
    {
        /// <summary>Per stall probe, in the order given, its longest wait under way in the slice.</summary>
        public IReadOnlyList<ProbeSlice> Probes { get; init; } = [];
    }

    /// <summary>
    /// Requests that started in the slice, how many of them got a 5xx or no answer, their p50 and slowest latency,
    /// and how many of the route's requests were in flight (started, not yet answered) when the slice began.
    /// </summary>
    public sealed record RouteSlice(int Started, int ServerFailures, TimeSpan? P50, TimeSpan? Slowest, int InFlight);

    /// <summary>
    /// A probe's longest wait that was under way at some point of the slice (one that began before it counts: a stall
    /// of two seconds shows in each of its slices), and whether that wait failed; no value when none overlapped it.
    /// </summary>
    public sealed record ProbeSlice(TimeSpan? Longest, bool Failed);

    public static IReadOnlyList<Slice> Around(IReadOnlyCollection<RequestSample> samples, DateTimeOffset instant,
        TimeSpan before, TimeSpan after, TimeSpan step, IReadOnlyList<ProbeSeries>? probes = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(step, TimeSpan.Zero);
        var predictions = samples.Where(s => s.Route == Routes.Predict).ToList();
        var jobs = samples.Where(s => s.Route != Routes.Predict).ToList();
        var slices = new List<Slice>();
        for (var from = -before; from < after; from += step)
        {
            var window = new TimeWindow(instant + from, instant + from + step);
            slices.Add(new Slice(from, Of(predictions, window), Of(jobs, window))
            {
                Probes = [.. (probes ?? []).Select(probe => Of(probe, window))],
            });
        }

        return slices;
    }

    /// <summary>The slices as a Markdown table (milliseconds; "—" where nothing started).</summary>
    /// <remarks><paramref name="probeNames"/> head the probe columns (the slices' probes in the same order).</remarks>
    public static string Table(IEnumerable<Slice> slices, IReadOnlyList<string>? probeNames = null)
    {
        var names = probeNames ?? [];
        var text = new StringBuilder();
        text.AppendLine("| from (s) | predictions started | 5xx | in flight | p50 / slowest (ms) | job requests started | 5xx | in flight | p50 / slowest (ms) |"
            + string.Concat(names.Select(name => $" {name}, longest (ms) |")));
        text.AppendLine("|---|---|---|---|---|---|---|---|---|" + string.Concat(names.Select(_ => "---|")));
        foreach (var s in slices)
        {
            var probes = string.Concat(s.Probes.Take(names.Count).Select(p => $" {ProbeSummary.Ms(p.Longest)}{(p.Failed ? " (failed)" : "")} |"));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.From.TotalSeconds:+0.00;-0.00;0.00} | {Cells(s.Predictions)} | {Cells(s.Jobs)} |{probes}");
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

    private static ProbeSlice Of(ProbeSeries probe, TimeWindow window) =>
        probe.Samples.Where(s => s.Overlaps(window)).MaxBy(s => s.Latency) is { } longest
            ? new ProbeSlice(longest.Latency, longest.Failed)
            : new ProbeSlice(null, false);

    private static string Cells(RouteSlice r) =>
        $"{r.Started} | {r.ServerFailures} | {r.InFlight} | {Ms(r.P50)} / {Ms(r.Slowest)}";

    private static string Ms(TimeSpan? value) =>
        value is { } v ? v.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) : "—";
}
