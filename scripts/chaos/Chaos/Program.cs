using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Chaos;
using Chaos.Load;
using Chaos.Verdict;

// The chaos run (scripts/chaos/run.sh): exit 0 when every scenario held, 1 when one did not, 2 when the run itself failed.
ChaosOptions options;
try
{
    options = ChaosOptions.Parse(args);
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine($"chaos: {exception.Message}");
    return 2;
}

// The AppHost writes its own lines to the console; stdout is kept for the report, everything else goes to stderr.
var report = Console.Out;
Console.SetOut(Console.Error);
var loadBefore = File.ReadAllText("/proc/loadavg").Split(' ')[0];
var clock = Stopwatch.StartNew();
var log = Console.Error;
var started = DateTime.UtcNow;
await using var stack = new ChaosApp
{
    LogDirectory = Path.Combine(options.OutputDirectory, $"chaos-{started:yyyyMMddTHHmmssZ}-logs"),
};
log.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] starting the AppHost ({options.Mode} run; load average {loadBefore})");
ChaosRun run;
var startUp = TimeSpan.Zero;
try
{
    await stack.StartAsync(TimeSpan.FromMinutes(5), options.StateDisk, options.Postgres);
    startUp = clock.Elapsed;
    log.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] every resource healthy after {clock.Elapsed.TotalSeconds:0} s; gateway {stack.Gateway}");
    run = new ChaosRun(stack, options, log);
    using var limit = new CancellationTokenSource(options.RunLimit);
    await run.RunAsync(limit.Token);
}
catch (Exception exception)
{
    log.WriteLine($"chaos: the run failed: {exception}");
    return 2;
}

var loadAfter = File.ReadAllText("/proc/loadavg").Split(' ')[0];
var table = ChaosReport.Table(run.Results);
var failures = ChaosReport.Failures(run.Results);
var diagnostics = ChaosReport.Diagnostics(run.Results);
var saturationWindows = run.SaturationWindowsMeasured.Count == 1 ? "one window"
    : "the median of " + string.Join(", ", run.SaturationWindowsMeasured.Select(w => w.ToString("0.0", CultureInfo.InvariantCulture)));
var header = $"Chaos run ({options.Mode}), {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, " +
    $"load average {loadBefore} before / {loadAfter} after, {clock.Elapsed.TotalMinutes:0.0} min in all; saturation " +
    $"{run.Saturation:0.0} mixes/s of {LoadMix.Default.Predictions} predictions + {LoadMix.Default.Jobs} job + {LoadMix.Default.Reads} read " +
    $"({ChaosRun.SaturationCallers} callers; {saturationWindows}), load at half of it: {run.Rates.Predictions:0} predictions/s, {run.Rates.Jobs:0.0} jobs/s, {run.Rates.Reads:0.0} job reads/s.";
var phases = string.Join(", ", run.Phases.Prepend(("AppHost start-up", startUp)).Select(p => $"{p.Item1} {p.Item2.TotalSeconds:0} s"));
var footprints = string.Join(Environment.NewLine, run.Footprints.Select(f =>
    $"| {f.Process} | {ResourceGrowth.Mib(f.Start.RssBytes)} → {ResourceGrowth.Mib(f.End.RssBytes)} | {f.Start.OwnOpenFiles} → {f.End.OwnOpenFiles} " +
    $"| {f.Start.OutgoingConnections} → {f.End.OutgoingConnections} | {f.Start.CallersConnections} → {f.End.CallersConnections} " +
    $"| {f.Start.Threads} → {f.End.Threads} |"));
var probes = string.Join("; ", run.Probes.Select(ProbeSummary.Line));
var broker = run.BrokerStates.Count < 2 ? "RabbitMQ's queues and memory: not read (no soak, or its management API did not answer)."
    : $"""
      RabbitMQ's queues after warm-up → end (ready + unacknowledged messages, consumers): {string.Join("; ", BrokerState.QueueChanges(run.BrokerStates[0], run.BrokerStates[^1]))}.
      RabbitMQ's memory (MiB) after warm-up → end: Erlang's total {run.BrokerStates[0].Mib("total.erlang")} → {run.BrokerStates[^1].Mib("total.erlang")}, RSS {run.BrokerStates[0].Mib("total.rss")} → {run.BrokerStates[^1].Mib("total.rss")}; by use, the largest changes: {string.Join(", ", BrokerState.LargestChanges(run.BrokerStates[0], run.BrokerStates[^1], 6))}.
      """;
var markdown = $"""
    {header}
    Time by phase: {phases}.
    Stall probes, a wait every {StallProbes.Interval.TotalMilliseconds:0} ms through the run: {probes}.

    {table}
    {(failures.Length == 0 ? "Every scenario held." : "Failed:\n" + failures)}{(run.Skipped.Count == 0 ? "" : " Skipped: " + string.Join("; ", run.Skipped) + ".")}
    {diagnostics}

    Soak footprints (after warm-up → end):

    | process | RSS (MiB) | open files (own) | of them, connections it opened | callers' connections (not its own) | threads |
    |---|---|---|---|---|---|
    {footprints}

    {broker}

    """;
await report.WriteLineAsync(markdown);
await report.FlushAsync();

Directory.CreateDirectory(options.OutputDirectory);
var stamp = $"chaos-{DateTime.UtcNow:yyyyMMddTHHmmssZ}";
await File.WriteAllTextAsync(Path.Combine(options.OutputDirectory, stamp + ".md"), markdown);
await File.WriteAllTextAsync(Path.Combine(options.OutputDirectory, stamp + ".json"), JsonSerializer.Serialize(new
{
    mode = options.Mode,
    loadBefore,
    loadAfter,
    minutes = clock.Elapsed.TotalMinutes,
    phaseSeconds = run.Phases.Prepend(("AppHost start-up", startUp)).ToDictionary(p => p.Item1, p => p.Item2.TotalSeconds),
    saturationMixesPerSecond = run.Saturation,
    saturationWindowsMixesPerSecond = run.SaturationWindowsMeasured,
    mix = LoadMix.Default,
    rates = run.Rates,
    skipped = run.Skipped,
    scenarios = run.Results.Select(r => new
    {
        r.Name,
        start = r.Span.Start,
        end = r.Span.End,
        r.Requests,
        r.ErrorsByStatus,
        r.Jobs,
        recoverySeconds = r.RecoveryTime?.TotalSeconds,
        r.Recovered,
        p99BeforeMs = r.P99Before?.TotalMilliseconds,
        p99DuringMs = r.P99During?.TotalMilliseconds,
        p99AfterMs = r.P99After?.TotalMilliseconds,
        r.MemoryStart,
        r.MemoryEnd,
        r.Passed,
        r.Checks,
        r.Failures,
    }),
    footprints = run.Footprints.Select(f => new { f.Process, f.Start, f.End }),
    // Every process's footprint through the soak, a minute apart (null: the process was gone).
    footprintReadings = run.FootprintReadings.Select(f => new { f.Process, f.Readings }),
    // The broker through the soak (queues and memory by use in bytes), every minute.
    broker = run.BrokerStates,
    probes = from probe in run.Probes
             let figures = ProbeSummary.Of(probe)
             select new
             {
                 probe.Name,
                 waits = figures.Waits,
                 failed = figures.Failed,
                 p50Ms = figures.P50?.TotalMilliseconds,
                 p99Ms = figures.P99?.TotalMilliseconds,
                 longestMs = figures.Longest?.Latency.TotalMilliseconds,
                 longestFrom = figures.Longest?.Started,
                 // The longest waits of 100 ms or more (at most 50), in time order: to lay beside the run's events.
                 stalls = probe.Samples.Where(s => s.Latency >= TimeSpan.FromMilliseconds(100)).OrderByDescending(s => s.Latency).Take(50)
                     .OrderBy(s => s.Started).Select(s => new { @from = s.Started, ms = s.Latency.TotalMilliseconds, s.Failed }),
             },
}, new JsonSerializerOptions { WriteIndented = true }));
log.WriteLine($"written: {Path.Combine(options.OutputDirectory, stamp)}.md and .json; the resources' console output in {stack.LogDirectory}");
return run.Results.All(r => r.Passed) ? 0 : 1;
