namespace Chaos.Verdict;

/// <summary>
/// The rule for errors: outside a fault window (from the moment a fault is injected until the service is back and
/// the allowed recovery time has passed) a valid request never gets a 5xx or no answer. A request is inside a window
/// when it was in progress during any part of it: one in flight when a process is killed may fail.
/// </summary>
public static class FaultWindows
{
    /// <summary>The least jump of the wall clock past the monotonic one that counts as the machine paused.</summary>
    public static readonly TimeSpan LeastPause = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long after the machine resumes its errors are the machine's: a virtual machine restored from a snapshot
    /// brings its memory back page by page, and the stack ran at a fraction of its speed for 2 s after the pause seen
    /// (docs/reliability.md).
    /// </summary>
    public static readonly TimeSpan AfterPause = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The spans in which the machine was paused, from the clock-jump probe's samples (<c>StallProbe.ClockJumps</c>):
    /// each from the start of the timer that saw the jump to <see cref="AfterPause"/> past the jump's end. A fault the
    /// stack did not cause and could not answer through: no process ran, the load's included.
    /// </summary>
    public static IReadOnlyList<TimeWindow> MachinePaused(ProbeSeries clockJumps) =>
        [.. clockJumps.Samples.Where(s => s.Latency >= LeastPause).Select(s => new TimeWindow(s.Started, s.Started + s.Latency + AfterPause))];

    public static IReadOnlyList<RequestSample> ServerFailuresOutside(IEnumerable<RequestSample> samples, IReadOnlyCollection<TimeWindow> faults) =>
        [.. samples.Where(s => s.IsServerFailure && !InAny(s, faults))];

    /// <summary>Whether <paramref name="sample"/> was in progress during any part of any of <paramref name="windows"/>.</summary>
    public static bool InAny(RequestSample sample, IEnumerable<TimeWindow> windows) => windows.Any(w => Overlaps(sample, w));

    public static bool Overlaps(RequestSample sample, TimeWindow window) =>
        sample.Started < window.End && sample.Started + sample.Latency >= window.Start;

    /// <summary>
    /// When <paramref name="failures"/> (outside every window) started, for the report: each measured from the end of the
    /// last fault window before it, with the route ("predict 55, 6.2–7.1 s after a fault window ended"), or from the
    /// start when no window came before it. Empty for none.
    /// </summary>
    public static string DescribeWhen(IReadOnlyCollection<RequestSample> failures, IReadOnlyCollection<TimeWindow> faults)
    {
        var parts = failures
            .GroupBy(s => (s.Route, After: faults.Where(f => f.End <= s.Started).Select(f => (DateTimeOffset?)f.End).Max()))
            .OrderBy(g => g.Min(s => s.Started))
            .Select(g =>
            {
                var from = g.Min(s => s.Started) - (g.Key.After ?? g.Min(s => s.Started));
                var to = g.Max(s => s.Started) - (g.Key.After ?? g.Min(s => s.Started));
                return g.Key.After is null
                    ? $"{g.Key.Route} {g.Count()}, before any fault window"
                    : $"{g.Key.Route} {g.Count()}, {from.TotalSeconds:0.0}–{to.TotalSeconds:0.0} s after a fault window ended";
            });
        return string.Join("; ", parts);
    }

    /// <summary>Counts per status ("503 upstream_unavailable": 12; "no answer": 3), for the report.</summary>
    public static IReadOnlyDictionary<string, int> ErrorsByStatus(IEnumerable<RequestSample> samples) =>
        samples.Where(s => !s.Succeeded)
            .GroupBy(s => s.Status == 0 ? "no answer" : s.Code is null ? $"{s.Status}" : $"{s.Status} {s.Code}")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count());
}
