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
    /// (docs/reliability-history.md, "The machine paused").
    /// </summary>
    public static readonly TimeSpan AfterPause = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The least time a synced write of the disk probe must take to count as the disk stalled: the whole of the
    /// gateway's wait for a slot (<c>UpstreamLimits:QueueWait</c>, 1 s), so that a submission held up by the disk alone
    /// can have been refused.
    /// </summary>
    public static readonly TimeSpan LeastDiskStall = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long after a disk stall ends its refusals are the disk's: the submissions it held (258 in flight after the
    /// 4 s stall seen) drain in well under a second, and the gateway's line refuses at once for one more wait after
    /// the last call that waited one out (docs/reliability-history.md, "A stall of the disk").
    /// </summary>
    public static readonly TimeSpan AfterDiskStall = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The pauses of the whole machine, from the clock-jump probe's samples (<c>StallProbe.ClockJumps</c>): each from
    /// the start of the timer that saw the jump to <see cref="AfterPause"/> past the jump's end. A fault the stack did
    /// not cause and could not answer through: no process ran, the load's included, so it holds up every route.
    /// </summary>
    public static IReadOnlyList<MachineFault> MachinePaused(ProbeSeries clockJumps) =>
        [.. clockJumps.Samples.Where(s => s.Latency >= LeastPause).Select(s => new MachineFault(
            $"the machine was paused for {s.Latency.TotalSeconds:0.00} s (its wall clock jumped past the monotonic one)",
            new TimeWindow(s.Started, s.Started + s.Latency + AfterPause), AfterPause))];

    /// <summary>
    /// The stalls of the disk, from the disk probe's synced writes (<see cref="LeastDiskStall"/> or longer, or one that
    /// failed): each from the write's start to <see cref="AfterDiskStall"/> past its end. Only a job submission waits
    /// on the disk (its commit, and the broker's confirm, which waits on the broker's own <c>fsync</c>), so only
    /// submissions are held up by it; a prediction or a read failing then is still counted. A write under way while
    /// the run itself had the disk frozen (<paramref name="frozenByTheRun"/>, the disk-stall scenario) is that
    /// scenario's fault, not the machine's.
    /// </summary>
    public static IReadOnlyList<MachineFault> DiskStalled(ProbeSeries syncedWrites, IReadOnlyCollection<TimeWindow>? frozenByTheRun = null) =>
        [.. syncedWrites.Samples.Where(s => (s.Latency >= LeastDiskStall || s.Failed) && !(frozenByTheRun ?? []).Any(s.Overlaps)).Select(s => new MachineFault(
            s.Failed ? $"a synced write to the disk failed after {s.Latency.TotalSeconds:0.00} s"
                : $"the disk did not complete a synced write for {s.Latency.TotalSeconds:0.00} s",
            new TimeWindow(s.Started, s.Started + s.Latency + AfterDiskStall), AfterDiskStall, [Routes.SubmitJob]))];

    public static IReadOnlyList<RequestSample> ServerFailuresOutside(IEnumerable<RequestSample> samples, IReadOnlyCollection<TimeWindow> faults) =>
        [.. samples.Where(s => s.IsServerFailure && !InAny(s, faults))];

    /// <summary>Whether <paramref name="sample"/> was in progress during any part of any of <paramref name="windows"/>.</summary>
    public static bool InAny(RequestSample sample, IEnumerable<TimeWindow> windows) => windows.Any(w => Overlaps(sample, w));

    /// <summary>Whether one of <paramref name="faults"/> of the machine held <paramref name="sample"/> up (<see cref="MachineFault.Excuses"/>).</summary>
    public static bool HeldUp(RequestSample sample, IEnumerable<MachineFault> faults) => faults.Any(f => f.Excuses(sample));

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

/// <summary>
/// A fault of the machine rather than of the stack, which the script did not open and reads from a stall probe, never
/// from the errors: the 5xx and unanswered requests of the routes it <paramref name="HoldsUp"/> (every route when null) in progress
/// during <paramref name="Window"/> are reported and not counted. It excuses nothing else: no lost or duplicated
/// job, no recovery, no latency.
/// </summary>
public sealed record MachineFault(string What, TimeWindow Window, TimeSpan After, IReadOnlyList<string>? HoldsUp = null)
{
    /// <summary>Whether <paramref name="sample"/>'s failure is this fault's: of a route it holds up, in progress in its window.</summary>
    public bool Excuses(RequestSample sample) => (HoldsUp is null || HoldsUp.Contains(sample.Route)) && FaultWindows.Overlaps(sample, Window);
}
