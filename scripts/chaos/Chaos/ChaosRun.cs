using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;
using Chaos.Load;
using Chaos.Verdict;

namespace Chaos;

/// <summary>
/// The scenarios, one after another under one steady load: each has a quiet "before" window, its fault, and an
/// "after" window; the verdicts are computed from the samples and from what the system itself says of the jobs.
/// </summary>
public sealed class ChaosRun(ChaosApp stack, ChaosOptions options, TextWriter log)
{
    public const string JobsSubject = "chaos-jobs";
    public const string FillSubject = "chaos-fill";

    /// <summary>The owner of the saturation measurement's jobs (not counted by the ledger: no scenario's).</summary>
    public const string SaturationSubject = "chaos-saturation";

    /// <summary>Closed-loop callers of the saturation measurement.</summary>
    public const int SaturationCallers = 64;

    private readonly List<ScenarioResult> _results = [];
    private readonly List<(string Phase, TimeSpan Took)> _phases = [];
    private readonly Stopwatch _phaseClock = new();
    private readonly List<BrokerState> _brokerStates = [];
    private readonly List<TimeWindow> _disksFrozen = [];
    private readonly List<string> _skipped = [];
    private SteadyLoad _load = null!;
    private StallProbes? _probes;
    private double _saturation;

    public IReadOnlyList<ScenarioResult> Results => _results;

    /// <summary>Scenarios the run could not apply here, each with why.</summary>
    public IReadOnlyList<string> Skipped => _skipped;

    /// <summary>Where the run's time went, phase by phase (settling summed): to keep <c>--quick</c> short.</summary>
    public IEnumerable<(string Phase, TimeSpan Took)> Phases =>
        _phases.GroupBy(p => p.Phase).Select(g => (g.Key, TimeSpan.FromTicks(g.Sum(p => p.Took.Ticks))));

    /// <summary>Each process running at both ends of the soak: its footprint after the warm-up and at the end.</summary>
    public IEnumerable<(string Process, ProcessFootprint Start, ProcessFootprint End)> Footprints =>
        from f in FootprintReadings
        where f.Readings[0] is not null && f.Readings[^1] is not null
        select (f.Process, f.Readings[0]!, f.Readings[^1]!);

    /// <summary>
    /// The broker's queues and memory by use through the soak: after its warm-up, every <see cref="ReadEvery"/>,
    /// and at its end (a read the broker did not answer is left out).
    /// </summary>
    public IReadOnlyList<BrokerState> BrokerStates => _brokerStates;

    /// <summary>Each watched process's footprints through the soak, at the same moments (null: it was gone).</summary>
    public IReadOnlyList<(string Process, IReadOnlyList<ProcessFootprint?> Readings)> FootprintReadings { get; private set; } = [];

    /// <summary>
    /// How often the soak reads every process's footprint and the broker's state: a growth shows as a slope or a step,
    /// and one that does not stay through the last readings is not a leak.
    /// </summary>
    public static readonly TimeSpan ReadEvery = TimeSpan.FromMinutes(1);

    /// <summary>The stall probes' waits so far, all of them once the run has ended (<see cref="StallProbes"/>).</summary>
    public IReadOnlyList<ProbeSeries> Probes => _probes?.Series ?? [];

    /// <summary>Whole mixes (<see cref="LoadMix.Default"/>) per second the stack sustained in the saturation measurement.</summary>
    public double Saturation => _saturation;

    /// <summary>What each saturation window sustained, in mixes per second, in the order measured.</summary>
    public IReadOnlyList<double> SaturationWindowsMeasured { get; private set; } = [];

    /// <summary>The steady load's rates after the saturation measurement: half of it, per stream.</summary>
    public LoadRates Rates { get; private set; } = new(0, 0, 0);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var load = new SteadyLoad(stack.Gateway, stack.Token("chaos-predict", "predict"), stack.Token(JobsSubject, "jobs"));
        _load = load;
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        (load.PredictionsPerSecond, load.JobsPerSecond, load.ReadsPerSecond) = (20, 5, 5);
        var running = load.RunAsync(stopLoad.Token);
        await using var probes = StallProbes.Start(await stack.BrokerConnectionStringAsync(cancellationToken),
            await stack.WorkerDatabasePathAsync(), options.StateDisk ?? options.OutputDirectory);
        _probes = probes;
        _phaseClock.Start();

        var warmUp = Begin("warm-up (quiet)");
        Log($"warm-up {options.WarmUp.TotalSeconds} s at a light load");
        await Task.Delay(options.WarmUp, cancellationToken);
        End(warmUp);

        (load.PredictionsPerSecond, load.JobsPerSecond, load.ReadsPerSecond) = (0, 0, 0);
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        // Saturation of the mix the run applies (predictions, jobs and reads in its proportions), the median of a few
        // windows, then half of each stream.
        var windows = new List<MixMeasurement>();
        for (var window = 1; window <= options.SaturationWindows; window++)
        {
            if (window > 1)
            {
                // Each window's jobs would count as unfinished at the end of the next; the wait is the measurement's time.
                await SettleAsync(cancellationToken, phase: false);
            }

            var measured = await SteadyLoad.SaturationAsync(stack.Gateway, stack.Token(SaturationSubject, "predict jobs"),
                LoadMix.Default, SaturationCallers, options.Saturation);
            windows.Add(measured);
            Log($"saturation window {window} of {options.SaturationWindows}: {LoadMix.Default.SustainedMixesPerSecond(measured):0.0} mixes/s " +
                $"({SaturationCallers} callers, {options.Saturation.TotalSeconds:0} s: {measured.Predictions} predictions, " +
                $"{measured.JobsAccepted} jobs accepted of which {measured.JobsUnfinished} unfinished at the end, {measured.Reads} reads)");
        }

        _saturation = LoadMix.Default.SustainedMixesPerSecond(windows);
        SaturationWindowsMeasured = [.. windows.Select(LoadMix.Default.SustainedMixesPerSecond)];
        Rates = LoadMix.Default.At(Math.Max(1, _saturation / 2));
        Log($"saturation {_saturation:0.0} mixes/s of {LoadMix.Default.Predictions} predictions + {LoadMix.Default.Jobs} job + " +
            $"{LoadMix.Default.Reads} read (the median of {options.SaturationWindows} windows)");
        Phase("warm-up and saturation");
        await SettleAsync(cancellationToken); // the measurement's own jobs must not load the first fault
        (load.PredictionsPerSecond, load.JobsPerSecond, load.ReadsPerSecond) = (Rates.Predictions, Rates.Jobs, Rates.Reads);
        Log($"the load from now on, half of it: {Rates.Predictions:0} predictions/s, {Rates.Jobs:0.0} jobs/s, {Rates.Reads:0.0} job reads/s");

        // Each fault starts once the jobs of the previous one have finished (in the full run): a job's last retry (60 s
        // after its third attempt) must not land in the next fault and be charged to the wrong one.
        if (options.SlowOnly)
        {
            await SlowInferenceAsync(cancellationToken);
            Phase("python-inference slow");
        }
        else if (options.DiskOnly)
        {
            await StallDiskOrSkipAsync(cancellationToken);
        }
        else if (!options.SoakOnly)
        {
            await KillInferenceAsync(cancellationToken);
            Phase("python-inference killed");
            await SettleAsync(cancellationToken);
            await SlowInferenceAsync(cancellationToken);
            Phase("python-inference slow");
            await SettleAsync(cancellationToken);
            await KillWorkerAndRestartBrokerAsync(cancellationToken);
            Phase("Worker killed, broker restarted");
            await SettleAsync(cancellationToken);
            await FillQueueAndQuotaAsync(cancellationToken);
            Phase("queue and quota filled");
            await SettleAsync(cancellationToken);
            if (await StallDiskOrSkipAsync(cancellationToken))
            {
                await SettleAsync(cancellationToken);
            }
        }

        if (!options.SlowOnly && !options.DiskOnly)
        {
            await SoakAsync(cancellationToken);
            Phase("soak");
        }

        await stopLoad.CancelAsync();
        await running;
        await CountJobsAsync(cancellationToken);
        Phase("draining and counting jobs");
        ApplyRunWideRules();
    }

    /// <summary>python-inference SIGKILLed, then started again with the dashboard's start command.</summary>
    private async Task KillInferenceAsync(CancellationToken cancellationToken)
    {
        var result = Begin("python-inference killed (SIGKILL), then started");
        var python = stack.InstancesOf("python-inference").Single();
        await Task.Delay(options.Before, cancellationToken);

        var killed = DateTimeOffset.UtcNow;
        Log("  kill python-inference");
        await stack.KillAsync(python, cancellationToken);
        await Task.Delay(options.Gap, cancellationToken);
        var starting = DateTimeOffset.UtcNow;
        Log("  start python-inference (the dashboard's start command)");
        await stack.StartAsync(python, cancellationToken);
        var returned = await WaitAnswersAsync(python, cancellationToken);
        Log($"  python-inference answers again {(returned - starting).TotalSeconds:0.0} s after the start command");
        await Task.Delay(options.After, cancellationToken);
        End(result, killed, returned);

        var samples = _load.Samples.ToList();
        // The gap proper: from a second after the kill (requests in flight at the kill end as they may) to the start.
        var gap = new TimeWindow(killed.AddSeconds(1), starting);
        var gapAnswers = samples.Where(s => s.Route == Routes.Predict && gap.Contains(s.Started)).ToList();
        var p99 = Latency.Percentile(gapAnswers.Select(s => s.Latency), 99);
        result.P99During = p99;
        result.Check(gapAnswers.Count > 0 && gapAnswers.All(s => s.Status == 503 && s.Code is "upstream_unavailable"),
            $"while python-inference was gone, predictions were answered 503 upstream_unavailable ({Summary(gapAnswers)})");
        // Beside the p50 of the successful predictions before the kill: on a machine too busy to answer anything in
        // 100 ms the comparison says whether the 503s waited for something or only for a core.
        var quietP50 = Latency.Percentile(samples.Where(s => s.Route == Routes.Predict && s.Succeeded
            && new TimeWindow(result.Span.Start, killed).Contains(s.Started)).Select(s => s.Latency), 50);
        result.Check(p99 <= ChaosOptions.FastFailureLimit,
            $"those answers came within {ChaosOptions.FastFailureLimit.TotalMilliseconds} ms at p99 " +
            $"(p50 {Ms(Latency.Percentile(gapAnswers.Select(s => s.Latency), 50))} ms, p99 {Ms(p99)} ms; " +
            $"successful predictions before the kill: p50 {Ms(quietP50)} ms)");
        CheckRecovery(result, samples, Routes.Predict, returned, ChaosOptions.RecoveryLimit);
        result.Faults.Add(new TimeWindow(killed, returned + ChaosOptions.RecoveryLimit));
    }

    /// <summary>python-inference restarted with an injected delay longer than the gateway's prediction timeout, then without.</summary>
    private async Task SlowInferenceAsync(CancellationToken cancellationToken)
    {
        var result = Begin("python-inference slow (delay injected)");
        var python = stack.InstancesOf("python-inference").Single();
        await Task.Delay(options.Before, cancellationToken);
        var quiet = new TimeWindow(result.Span.Start, DateTimeOffset.UtcNow);

        var delay = ChaosApp.PredictionTimeout + TimeSpan.FromSeconds(2);
        var faultStart = DateTimeOffset.UtcNow;
        Log($"  restart python-inference with FAULT_PREDICTION_DELAY={delay.TotalSeconds} s");
        stack.InferenceDelaySeconds = delay.TotalSeconds;
        await RestartAsync(python, cancellationToken);
        var slowFrom = await WaitAnswersAsync(python, cancellationToken);
        await Task.Delay(options.SlowFor, cancellationToken);
        var slowTo = DateTimeOffset.UtcNow;
        Log("  restart python-inference without the delay");
        stack.InferenceDelaySeconds = 0;
        await RestartAsync(python, cancellationToken);
        var returned = await WaitAnswersAsync(python, cancellationToken);
        await Task.Delay(options.After, cancellationToken);
        End(result, faultStart, returned);

        var samples = _load.Samples.ToList();
        var slow = new TimeWindow(slowFrom, slowTo);
        // A prediction that started in the slow window and was still waiting at its end is judged too.
        var slowAnswers = samples.Where(s => s.Route == Routes.Predict && slow.Contains(s.Started)).ToList();
        result.P99During = Latency.P99(samples, slow, Routes.Predict);
        var deadline = ChaosApp.RequestDeadline + TimeSpan.FromSeconds(1);
        result.Check(slowAnswers.Any(s => s.Status == 504),
            $"python-inference was slow: predictions got 504 ({Summary(slowAnswers)})");
        // 503 overloaded is python-inference's own back-pressure (its bound on calls in progress), passed on by the gateway.
        var unexpected = slowAnswers.Where(s => !(s.Status is 504 or 503 && s.Code is "upstream_timeout" or "deadline_exceeded"
            or "concurrency_limited" or "upstream_unavailable" or "overloaded")).ToList();
        result.Check(unexpected.Count == 0,
            "every prediction in the slow window was answered 504 upstream_timeout or deadline_exceeded (or 503 with a code: back-pressure)");
        if (unexpected.Count > 0)
        {
            result.Diagnostics.Add("the other answers in the slow window, by status, code and detail: " + Details(unexpected));
        }

        // A 502 anywhere in the scenario (the restarts included) says python-inference failed in a way it did not describe.
        var badGateway = samples.Where(s => s.Route == Routes.Predict && s.Status == 502 && s.Started >= faultStart).ToList();
        if (badGateway.Count > 0)
        {
            result.Diagnostics.Add("502s of predictions in the scenario, by code and detail, with when they started: " + Details(badGateway) +
                $" (slow from {slowFrom:HH:mm:ss.fff} to {slowTo:HH:mm:ss.fff} UTC, back at {returned:HH:mm:ss.fff})");
        }
        var slowest = slowAnswers.Count == 0 ? TimeSpan.Zero : slowAnswers.Max(s => s.Latency);
        result.Check(slowest <= deadline,
            $"each within the gateway's deadline ({ChaosApp.RequestDeadline.TotalSeconds} s + 1 s; slowest {slowest.TotalSeconds:0.00} s)");
        var quietOthers = Latency.P99(samples, quiet, Routes.SubmitJob, Routes.ReadJob);
        var slowOthers = Latency.P99(samples, slow, Routes.SubmitJob, Routes.ReadJob);
        var flat = Latency.StaysFlat(quietOthers, slowOthers, 2, TimeSpan.FromMilliseconds(20));
        result.Check(flat,
            $"the jobs routes stayed flat: p99 {Ms(quietOthers)} ms quiet, {Ms(slowOthers)} ms while slow (limit 2×, quiet counted as at least 20 ms; " +
            $"submissions {Ms(Latency.P99(samples, quiet, Routes.SubmitJob))} → {Ms(Latency.P99(samples, slow, Routes.SubmitJob))} ms, " +
            $"reads {Ms(Latency.P99(samples, quiet, Routes.ReadJob))} → {Ms(Latency.P99(samples, slow, Routes.ReadJob))} ms)");
        if (!flat)
        {
            // Whether the slow window's tail is spread through it or a few stalls (with the probes beside them).
            var probes = Probes;
            result.Diagnostics.Add("the load through the quiet window and the slow one (from python-inference answering with its delay), " +
                "by second (\"job requests\": submissions and reads; then the stall probes' longest wait under way in the second):\n\n" +
                Timeline.Table(Timeline.Around(samples, slowFrom, slowFrom - quiet.Start, slow.Length, TimeSpan.FromSeconds(1), probes),
                    [.. probes.Select(p => p.Name)]));
        }

        CheckRecovery(result, samples, Routes.Predict, returned, ChaosOptions.RecoveryLimit);
        result.Faults.Add(new TimeWindow(faultStart, returned + ChaosOptions.RecoveryLimit));
    }

    /// <summary>A Worker replica SIGKILLed while it holds a batch, started again; then the broker restarted.</summary>
    private async Task KillWorkerAndRestartBrokerAsync(CancellationToken cancellationToken)
    {
        var result = Begin("Worker replica killed mid-batch, broker restarted");
        await Task.Delay(options.Before, cancellationToken);
        var replica = stack.InstancesOf("worker")[0];
        // Mid-batch: a burst of jobs on top of the steady load, and the kill once some are running.
        using var burstClient = SteadyLoad.Client(stack.Gateway, stack.Token(JobsSubject, "jobs"));
        var burst = BurstAsync(burstClient, 300, stopAfterRefusals: 30, cancellationToken);
        var running = 0;
        for (var poll = Stopwatch.StartNew(); running == 0 && poll.Elapsed < TimeSpan.FromSeconds(10);)
        {
            running = (await ListAllAsync(burstClient, cancellationToken, "running")).Count;
        }

        var faultStart = DateTimeOffset.UtcNow;
        Log($"  kill {replica} ({running} jobs running on the replicas)");
        await stack.KillAsync(replica, cancellationToken);
        result.AcceptedJobs.AddRange((await burst).Accepted);
        await stack.StartAsync(replica, cancellationToken);
        await WaitAnswersAsync(replica, cancellationToken);
        Log("  restart the broker (the dashboard's restart command)");
        await stack.CommandAsync("messaging", KnownResourceCommands.RestartCommand, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        await stack.WaitHealthyAsync("messaging", cancellationToken);
        var returned = DateTimeOffset.UtcNow;
        await Task.Delay(options.After, cancellationToken);
        End(result, faultStart, returned);

        var samples = _load.Samples.ToList();
        // The Worker reconnects to the broker on its own schedule: submissions get 503 broker_unavailable until then.
        CheckRecovery(result, samples, Routes.SubmitJob, returned, TimeSpan.FromSeconds(15));
        var refusals = samples.Where(s => s.Route == Routes.SubmitJob && new TimeWindow(faultStart, returned).Contains(s.Started) && !s.Succeeded).ToList();
        result.Check(refusals.All(IsProblemRefusal),
            $"submissions refused during the faults were 503/504 problems with a code ({Summary(refusals)})");
        result.Faults.Add(new TimeWindow(faultStart, returned + TimeSpan.FromSeconds(15)));
    }

    /// <summary>Job processing paused (the dashboard's command); one owner past its quota, then the queue past its limit.</summary>
    private async Task FillQueueAndQuotaAsync(CancellationToken cancellationToken)
    {
        var result = Begin("queue limit and owner quota filled");
        await Task.Delay(options.Before, cancellationToken);
        var faultStart = DateTimeOffset.UtcNow;
        Log("  pause job processing; submit past a quota, then past the queue limit");
        await stack.CommandAsync(stack.InstancesOf("worker")[0], "pause-jobs", cancellationToken);
        // Each replica follows the switch within a second (JobConsumption.FollowInterval) and finishes what it holds.
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);

        using var quotaClient = SteadyLoad.Client(stack.Gateway, stack.Token(ChaosApp.QuotaSubject, "jobs"));
        var quota = await BurstAsync(quotaClient, ChaosApp.QuotaOfQuotaSubject + 20, stopAfterRefusals: int.MaxValue, cancellationToken);
        using var fillClient = SteadyLoad.Client(stack.Gateway, stack.Token(FillSubject, "jobs"));
        // Up to eight jobs to a message at eight submissions at a time: enough to fill the queue, however they were grouped.
        var fill = await BurstAsync(fillClient, ChaosApp.JobsQueueMaxLength * 8 + 300, stopAfterRefusals: 30, cancellationToken);
        result.AcceptedJobs.AddRange(quota.Accepted);
        result.AcceptedJobs.AddRange(fill.Accepted);

        Log($"  quota: {quota.Accepted.Count} accepted, {quota.Refused.Count} refused; queue: {fill.Accepted.Count} accepted, {fill.Refused.Count} refused");
        await stack.CommandAsync(stack.InstancesOf("worker")[0], "resume-jobs", cancellationToken);
        var resumed = DateTimeOffset.UtcNow;
        await Task.Delay(options.After, cancellationToken);
        End(result, faultStart, resumed);

        result.Requests += quota.Accepted.Count + quota.Refused.Count + fill.Accepted.Count + fill.Refused.Count;
        result.ErrorsByStatus = result.ErrorsByStatus
            .Concat(quota.Refused.Concat(fill.Refused).GroupBy(r => $"{r.Status} {r.Code}").Select(g => KeyValuePair.Create(g.Key, g.Count())))
            .GroupBy(e => e.Key).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
        result.Check(quota.Accepted.Count == ChaosApp.QuotaOfQuotaSubject,
            $"the owner with a quota of {ChaosApp.QuotaOfQuotaSubject} unfinished jobs had exactly that many accepted ({quota.Accepted.Count})");
        result.Check(quota.Refused.Count > 0 && quota.Refused.All(r => r is (429, "job_quota_exceeded", true)),
            $"the rest were refused 429 job_quota_exceeded with Retry-After ({Refusals(quota.Refused)})");
        result.Check(fill.Refused.Any(r => r is (503, "queue_full", true)) && fill.Refused.All(r => r is (503, "queue_full", true) or (429, "job_quota_exceeded", true)),
            $"past the queue limit ({ChaosApp.JobsQueueMaxLength} ready jobs) submissions were refused 503 queue_full with Retry-After ({Refusals(fill.Refused)})");
        result.Faults.Add(new TimeWindow(faultStart, resumed + TimeSpan.FromSeconds(5)));
    }

    /// <summary>The disk-stall scenario when the run has a file system of its own to freeze; false when it was skipped.</summary>
    private async Task<bool> StallDiskOrSkipAsync(CancellationToken cancellationToken)
    {
        if (options.StateDisk is null)
        {
            _skipped.Add("disk stalled: no file system of the run's own to freeze (scripts/chaos/run.sh mounts one as root, " +
                "with losetup, mkfs.ext4 and fsfreeze)");
            Log($"skipped: {_skipped[^1]}");
            return false;
        }

        await StallDiskAsync(options.StateDisk, cancellationToken);
        Phase("disk stalled");
        return true;
    }

    /// <summary>
    /// The file system holding the stack's state (the broker's messages, the job database) frozen for
    /// <see cref="ChaosOptions.DiskStall"/>, then thawed: every write to it waits meanwhile (fsfreeze), as when the
    /// machine's own disk stopped for 4 s in a run, now on purpose. Predictions and reads of jobs write nothing and must
    /// not notice; submissions (a commit, the broker's confirm) wait, or are refused with a problem once their wait for
    /// a slot is out, and succeed again soon after the thaw; every job accepted before, during and after is done once.
    /// </summary>
    private async Task StallDiskAsync(string disk, CancellationToken cancellationToken)
    {
        var result = Begin($"disk stalled ({ChaosOptions.DiskStall.TotalSeconds:0} s: the state's file system frozen)");
        await Task.Delay(options.Before, cancellationToken);
        var frozen = DateTimeOffset.UtcNow;
        Log($"  freeze {disk} for {ChaosOptions.DiskStall.TotalSeconds:0} s");
        try
        {
            await FreezeAsync("--freeze", disk, cancellationToken);
            await Task.Delay(ChaosOptions.DiskStall, cancellationToken);
        }
        finally
        {
            await FreezeAsync("--unfreeze", disk, CancellationToken.None);
        }

        var thawed = DateTimeOffset.UtcNow;
        var stall = new TimeWindow(frozen, thawed);
        _disksFrozen.Add(stall);
        Log("  thawed");
        await Task.Delay(options.After, cancellationToken);
        End(result, frozen, thawed);

        var samples = _load.Samples.ToList();
        var quiet = new TimeWindow(result.Span.Start, frozen);
        List<RequestSample> During(string route) => [.. samples.Where(s => s.Route == route && FaultWindows.Overlaps(s, stall))];
        var longest = Probes.Where(p => p.Name == StallProbes.Disk).SelectMany(p => p.Samples)
            .Where(p => p.Overlaps(stall)).Select(p => p.Latency).DefaultIfEmpty().Max();
        result.Check(longest >= ChaosOptions.DiskStall - TimeSpan.FromSeconds(0.5),
            $"the disk stalled: the probe's synced write waited {longest.TotalSeconds:0.00} s");
        // Neither a prediction nor a read of a job writes anything: both are answered through the stall, as fast as before.
        foreach (var (route, what) in new[] { (Routes.Predict, "predictions"), (Routes.ReadJob, "reads of jobs") })
        {
            var answers = During(route);
            var (before, during) = (Latency.P99(samples, quiet, route), Latency.Percentile(answers.Select(s => s.Latency), 99));
            result.Check(answers.Count > 0 && answers.All(s => s.Succeeded) && Latency.StaysFlat(before, during, 2, TimeSpan.FromMilliseconds(20)),
                $"{what}, which write nothing, were answered through it as fast as before ({Summary(answers)}; p99 {Ms(before)} ms " +
                $"before, {Ms(during)} ms in it; limit 2×, before counted as at least 20 ms)");
        }

        var submissions = During(Routes.SubmitJob);
        result.Check(submissions.All(s => s.Succeeded || IsProblemRefusal(s)),
            $"submissions waited, or were refused with a 503/504 problem ({Summary(submissions)})");
        CheckRecovery(result, samples, Routes.SubmitJob, thawed, ChaosOptions.RecoveryLimit);
        result.Faults.Add(new TimeWindow(frozen, thawed + ChaosOptions.RecoveryLimit));
    }

    /// <summary>A 503 or 504 answered as a problem with a code: the refusal a fault may bring, not a crash or a hang.</summary>
    private static bool IsProblemRefusal(RequestSample sample) =>
        sample.Status is 503 or 504 && sample.Code is not null && !sample.Code.StartsWith("not a problem", StringComparison.Ordinal);

    /// <summary><c>fsfreeze --freeze</c> or <c>--unfreeze</c> of the file system mounted at <paramref name="mountPoint"/>.</summary>
    private static async Task FreezeAsync(string action, string mountPoint, CancellationToken cancellationToken)
    {
        using var fsfreeze = Process.Start(new ProcessStartInfo("fsfreeze", [action, mountPoint]) { RedirectStandardError = true })
            ?? throw new InvalidOperationException("fsfreeze did not start");
        var error = await fsfreeze.StandardError.ReadToEndAsync(cancellationToken);
        await fsfreeze.WaitForExitAsync(cancellationToken);
        if (fsfreeze.ExitCode != 0)
        {
            throw new InvalidOperationException($"fsfreeze {action} {mountPoint} failed ({fsfreeze.ExitCode}): {error.Trim()}");
        }
    }

    private sealed record Burst(List<Guid> Accepted, List<(int Status, string? Code, bool RetryAfter)> Refused);

    private static async Task<Burst> BurstAsync(HttpClient client, int count, int stopAfterRefusals, CancellationToken cancellationToken)
    {
        var burst = new Burst([], []);
        var refusedInARow = 0;
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            if (Volatile.Read(ref refusedInARow) >= stopAfterRefusals)
            {
                return;
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
            {
                Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { $"Burst {i}: fine." } }),
            };
            request.Headers.Add("Idempotency-Key", $"chaos-burst-{Guid.NewGuid():N}");
            using var response = await client.SendAsync(request, ct);
            JsonElement body;
            try
            {
                body = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            }
            catch (JsonException)
            {
                body = default;
            }

            lock (burst)
            {
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    burst.Accepted.Add(body.GetProperty("id").GetGuid());
                    refusedInARow = 0;
                }
                else
                {
                    burst.Refused.Add(((int)response.StatusCode,
                        body.ValueKind == JsonValueKind.Object && body.TryGetProperty("code", out var code) ? code.GetString() : null,
                        response.Headers.RetryAfter is not null));
                    refusedInARow++;
                }
            }
        });
        return burst;
    }

    /// <summary>Half of saturation for the soak's length: no errors, and no process grows past its allowance.</summary>
    private async Task SoakAsync(CancellationToken cancellationToken)
    {
        var result = Begin($"soak ({options.Soak.TotalMinutes:0.#} min at half of saturation)");
        await Task.Delay(options.SoakWarmUp, cancellationToken);
        var processes = WatchedProcesses();
        var measuredFrom = DateTimeOffset.UtcNow;
        List<Dictionary<string, ProcessFootprint?>> readings = [ReadFootprints(processes)];
        await ReadBrokerAsync(cancellationToken);
        Log($"  footprints after warm-up taken ({string.Join(", ", processes.Select(p => $"{p.Name} {p.Pid}"))}); soaking");
        var soakEnds = measuredFrom + (options.Soak - options.SoakWarmUp);
        for (var next = measuredFrom + ReadEvery; next < soakEnds; next += ReadEvery)
        {
            await Task.Delay(next - DateTimeOffset.UtcNow, cancellationToken);
            readings.Add(ReadFootprints(processes));
            await ReadBrokerAsync(cancellationToken);
        }

        await Task.Delay(soakEnds - DateTimeOffset.UtcNow is { Ticks: > 0 } left ? left : TimeSpan.Zero, cancellationToken);
        readings.Add(ReadFootprints(processes));
        await ReadBrokerAsync(cancellationToken);
        End(result);
        var (start, end) = (readings[0], readings[^1]);
        FootprintReadings = [.. processes.Select(p => (p.Name, (IReadOnlyList<ProcessFootprint?>)[.. readings.Select(r => r[p.Name])]))];

        var soak = _load.Samples.Where(s => result.Span.Contains(s.Started)).ToList();
        var failed = soak.Where(s => !s.Succeeded).ToList();
        var machine = MachineFaults();
        var machines = failed.Where(s => FaultWindows.HeldUp(s, machine)).ToList();
        result.Check(failed.Count == machines.Count, $"no request failed during the soak ({Summary([.. failed.Where(s => !FaultWindows.HeldUp(s, machine))])}" +
            (machines.Count == 0 ? ")" : $"; {machines.Count} held up by a fault of the machine, not counted)"));
        result.P99Before = Latency.P99(soak, new TimeWindow(result.Span.Start, measuredFrom), Routes.Predict);
        result.P99During = Latency.P99(soak, new TimeWindow(measuredFrom, result.Span.End), Routes.Predict);
        result.P99After = null;
        long startTotal = 0, endTotal = 0;
        foreach (var (name, _) in processes)
        {
            if (start[name] is not { } s || end[name] is not { } e)
            {
                result.Check(false, $"{name} was not running at both ends of the soak");
                continue;
            }

            (startTotal, endTotal) = (startTotal + s.RssBytes, endTotal + e.RssBytes);
            // A growth counts when it stays through the soak's last readings (ResourceGrowth.ReadingsAGrowthMustStayIn).
            var last = readings.Skip(1).TakeLast(ResourceGrowth.ReadingsAGrowthMustStayIn).Select(r => r[name]).OfType<ProcessFootprint>().ToList();
            var violations = ResourceGrowth.LastingViolations(name, s, last, GrowthAllowance.Default);
            result.Check(violations.Count == 0,
                violations.Count == 0 ? $"{name}: RSS, open files and threads within the allowance" : string.Join("; ", violations));
        }

        (result.MemoryStart, result.MemoryEnd) = (startTotal, endTotal);
    }

    /// <summary>The broker's state now, kept for the report and summed up in the log.</summary>
    private async Task ReadBrokerAsync(CancellationToken cancellationToken)
    {
        if (await stack.BrokerStateAsync(cancellationToken) is not { } state)
        {
            Log("  the broker's management API did not answer");
            return;
        }

        _brokerStates.Add(state);
        var held = state.Queues.Where(q => q.Ready + q.Unacknowledged > 0).Select(q => $"{q.Name} {q.Ready}+{q.Unacknowledged}");
        Log($"  broker: Erlang {state.Mib("total.erlang")} MiB, RSS {state.Mib("total.rss")} MiB (binary {state.Mib("binary")}, " +
            $"queues {state.Mib("queue_procs")}, reserved, not allocated {state.Mib("reserved_unallocated")}); " +
            $"messages held: {(held.Any() ? string.Join(", ", held) : "none")}");
    }

    /// <summary>Each watched process's footprint, by name, and in the log how long reading them took.</summary>
    private Dictionary<string, ProcessFootprint?> ReadFootprints(List<(string Name, int Pid)> processes)
    {
        var clock = Stopwatch.StartNew();
        var footprints = ResourceGrowth.Read([.. processes.Select(p => p.Pid)]);
        Log($"  footprints of {processes.Count} processes read in {clock.Elapsed.TotalMilliseconds:0} ms");
        return processes.Select((p, i) => (p.Name, Footprint: footprints[i])).ToDictionary(p => p.Name, p => p.Footprint);
    }

    private List<(string Name, int Pid)> WatchedProcesses()
    {
        List<(string Name, int Pid)> processes = [];
        foreach (var resource in new[] { "gateway", "worker", "python-inference", "messaging", "aspire-dashboard" })
        {
            foreach (var instance in stack.InstancesOf(resource))
            {
                if (stack.ServicePid(instance) is { } pid)
                {
                    processes.Add((instance, pid));
                }
            }
        }

        return processes;
    }

    /// <summary>
    /// Waits until no job of the driver's owners is queued or running: at most 90 s in the full run (the Worker's retries
    /// take 71 s), 10 s in <c>--quick</c>, where a late retry may fall into the next fault (it must still complete).
    /// <paramref name="phase"/>: the wait is its own phase in the report, not part of the one before.
    /// </summary>
    private async Task SettleAsync(CancellationToken cancellationToken, bool phase = true)
    {
        var clock = Stopwatch.StartNew();
        var (unfinished, settled) = (0, false);
        while (!settled && clock.Elapsed < options.Settle)
        {
            unfinished = 0;
            foreach (var owner in new[] { JobsSubject, ChaosApp.QuotaSubject, FillSubject, SaturationSubject })
            {
                using var client = SteadyLoad.Client(stack.Gateway, stack.Token(owner, "jobs"));
                unfinished += (await ListAllAsync(client, cancellationToken, "queued")).Count
                    + (await ListAllAsync(client, cancellationToken, "running")).Count;
            }

            // The steady load keeps a few in flight all the time.
            settled = unfinished <= Math.Max(5, _load.JobsPerSecond * 2);
            if (!settled)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }

        Log(settled
            ? $"  settled: earlier jobs finished ({clock.Elapsed.TotalSeconds:0} s)"
            : $"  not settled after {options.Settle.TotalSeconds:0} s: {unfinished} jobs unfinished, left to the final drain");
        if (phase)
        {
            Phase("settling");
        }
    }

    /// <summary>Waits until every accepted job is finished (or the drain time is over), then counts them from the system.</summary>
    private async Task CountJobsAsync(CancellationToken cancellationToken)
    {
        var accepted = _load.Accepted.ToList();
        // A job belongs to the scenario that had started when it was accepted: the settling after a scenario is its own.
        foreach (var (id, at) in accepted)
        {
            (_results.LastOrDefault(r => r.Span.Start <= at) ?? _results[0]).AcceptedJobs.Add(id);
        }

        var owners = new[] { JobsSubject, ChaosApp.QuotaSubject, FillSubject };
        var everyAccepted = _results.SelectMany(r => r.AcceptedJobs).Concat(accepted.Select(a => a.Id)).ToHashSet();
        Log($"draining: {everyAccepted.Count} accepted jobs to finish (at most {options.Drain.TotalSeconds:0} s)");
        var deadline = Stopwatch.StartNew();
        Dictionary<Guid, string> statuses;
        while (true)
        {
            statuses = [];
            foreach (var owner in owners)
            {
                using var client = SteadyLoad.Client(stack.Gateway, stack.Token(owner, "jobs"));
                foreach (var (id, status) in await ListAllAsync(client, cancellationToken))
                {
                    statuses[id] = status;
                }
            }

            var unfinished = everyAccepted.Count(id => statuses.GetValueOrDefault(id) is "queued" or "running");
            if (unfinished == 0 || deadline.Elapsed > options.Drain)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }

        // How many times each succeeded job was announced: the audit log's job.completed records.
        using var audit = stack.AuditClient();
        var completions = new System.Collections.Concurrent.ConcurrentDictionary<Guid, int>();
        await Parallel.ForEachAsync(everyAccepted.Where(id => statuses.GetValueOrDefault(id) == "succeeded"),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (id, ct) =>
            {
                for (var attempt = 0; attempt < 20; attempt++)
                {
                    var trail = await audit.GetFromJsonAsync<JsonElement>($"/v1/audit/jobs/{id}", ct);
                    var count = trail.EnumerateArray().Count(e => e.GetProperty("type").GetString() == "job.completed");
                    completions[id] = count;
                    if (count > 0)
                    {
                        return;
                    }

                    await Task.Delay(500, ct); // the audit consumer may not have read the event yet
                }
            });

        var observed = everyAccepted.ToDictionary(id => id,
            id => new JobOutcome(id, statuses.GetValueOrDefault(id), completions.GetValueOrDefault(id)));
        var unaccounted = statuses.Keys.Where(id => !everyAccepted.Contains(id)).ToList();
        foreach (var result in _results)
        {
            var mine = result.AcceptedJobs.Distinct().ToList();
            result.Jobs = JobLedger.Count(mine, observed, mine, 0);
            if (mine.Count > 0)
            {
                result.Check(result.Jobs.Holds,
                    $"jobs: {result.Jobs.Accepted} accepted, {result.Jobs.Completed} completed once, {result.Jobs.Failed} failed, " +
                    $"{result.Jobs.Unfinished} unfinished, {result.Jobs.Lost} unknown to the system, {result.Jobs.Duplicated} done twice");
            }
        }

        // Jobs of the driver's owners that no 202 accounts for (beyond the submissions left without an answer).
        var whole = JobLedger.Count(everyAccepted, observed, statuses.Keys, _load.Unanswered);
        if (whole.Duplicated > 0 && _results.Count > 0)
        {
            _results[^1].Check(false, $"{unaccounted.Count} jobs exist that no accepted submission accounts for ({_load.Unanswered} submissions got no answer)");
        }
    }

    private static async Task<List<(Guid Id, string Status)>> ListAllAsync(HttpClient client, CancellationToken cancellationToken, string? status = null)
    {
        List<(Guid, string)> jobs = [];
        string? token = null;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>(
                $"/api/v1/jobs?pageSize=100{(status is null ? "" : $"&status={status}")}{(token is null ? "" : $"&pageToken={token}")}", cancellationToken);
            jobs.AddRange(page.GetProperty("items").EnumerateArray()
                .Select(j => (j.GetProperty("id").GetGuid(), j.GetProperty("status").GetString() ?? "")));
            token = page.GetProperty("nextPageToken").GetString();
        }
        while (token is not null);
        return jobs;
    }

    /// <summary>No 5xx (nor a request without an answer) outside the fault windows, anywhere in the run.</summary>
    private void ApplyRunWideRules()
    {
        var faults = _results.SelectMany(r => r.Faults).ToList();
        var samples = _load.Samples.ToList();
        var machine = MachineFaults();
        var outside = FaultWindows.ServerFailuresOutside(samples, faults);
        var machines = outside.Where(s => FaultWindows.HeldUp(s, machine)).ToList();
        outside = [.. outside.Where(s => !FaultWindows.HeldUp(s, machine))];
        // Said, never counted: each fault of the machine, under the scenario it fell in, and the failures it held up.
        foreach (var fault in machine)
        {
            var result = _results.FirstOrDefault(r => r.Span.Contains(fault.Window.Start)) ?? _results[^1];
            var held = machines.Where(fault.Excuses).ToList();
            result.Check(true, $"{fault.What} from {fault.Window.Start:HH:mm:ss.fff} UTC: " +
                $"{(fault.HoldsUp is null ? "requests" : string.Join(" and ", fault.HoldsUp) + " requests")} that got a 5xx or " +
                $"no answer then or in the {fault.After.TotalSeconds:0} s after, the machine's and not counted: {Summary(held)}");
            if (held.Count > 0)
            {
                result.Diagnostics.Add(LoadAround(held, $"held up by a fault of the machine at {fault.Window.Start:HH:mm:ss.fff} UTC"));
            }
        }

        foreach (var result in _results)
        {
            var mine = outside.Where(s => result.Span.Contains(s.Started)).ToList();
            result.Check(mine.Count == 0, $"no 5xx or unanswered request outside a fault window ({Summary(mine)}" +
                (mine.Count == 0 ? ")" : $"; {FaultWindows.DescribeWhen(mine, faults)})"));
            if (mine.Count > 0)
            {
                result.Diagnostics.Add(LoadAround(mine, "outside a fault window"));
            }
        }

        // Said like a scenario's own: what they were, when, and the load around the first.
        var between = outside.Where(s => !_results.Any(r => r.Span.Contains(s.Started))).ToList();
        if (between.Count > 0)
        {
            _results[^1].Check(false, $"{between.Count} requests between scenarios got a 5xx or no answer ({Summary(between)}; " +
                $"{FaultWindows.DescribeWhen(between, faults)})");
            _results[^1].Diagnostics.Add(LoadAround(between, "between scenarios"));
        }

        // What the failures were, and the load a quarter of a second at a time around the first of them.
        string LoadAround(List<RequestSample> failures, string where)
        {
            var first = failures.MinBy(s => s.Started)!;
            var probes = Probes;
            var details = string.Join("; ", failures.GroupBy(s => s.Detail ?? s.Code ?? "no answer")
                .OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} × \"{g.Key}\""));
            return $"the load around the first 5xx {where} ({first.Started:HH:mm:ss.fff} UTC; {details}), " +
                "by quarter of a second (\"job requests\": submissions and reads, which do not wait on python-inference; " +
                "then the stall probes' longest wait under way in the quarter):\n\n" +
                Timeline.Table(Timeline.Around(samples, first.Started, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(2),
                    TimeSpan.FromMilliseconds(250), probes), [.. probes.Select(p => p.Name)]);
        }
    }

    /// <summary>
    /// The faults of the machine so far, read from the stall probes: its pauses (<see cref="FaultWindows.MachinePaused"/>)
    /// and the disk's stalls (<see cref="FaultWindows.DiskStalled"/>), but for the stalls the run made itself.
    /// </summary>
    private List<MachineFault> MachineFaults() =>
    [
        .. Probes.Where(p => p.Name == StallProbes.MachinePaused).SelectMany(FaultWindows.MachinePaused),
        .. Probes.Where(p => p.Name == StallProbes.Disk).SelectMany(p => FaultWindows.DiskStalled(p, _disksFrozen)),
    ];

    /// <summary>Charges the time since the last phase ended to <paramref name="name"/>.</summary>
    private void Phase(string name)
    {
        _phases.Add((name, _phaseClock.Elapsed));
        _phaseClock.Restart();
    }

    private ScenarioResult Begin(string name)
    {
        Log(name);
        var result = new ScenarioResult(name) { Span = new TimeWindow(DateTimeOffset.UtcNow, DateTimeOffset.MaxValue) };
        result.MemoryStart = WatchedProcesses().Sum(p => ResourceGrowth.Rss(p.Pid));
        _results.Add(result);
        return result;
    }

    /// <summary>Closes the scenario's span and fills in its figures: p99 of predictions before the fault, during it, after it.</summary>
    private void End(ScenarioResult result, DateTimeOffset? faultStart = null, DateTimeOffset? returned = null)
    {
        var now = DateTimeOffset.UtcNow;
        result.Span = new TimeWindow(result.Span.Start, now);
        result.MemoryEnd = WatchedProcesses().Sum(p => ResourceGrowth.Rss(p.Pid));
        var samples = _load.Samples.Where(s => result.Span.Contains(s.Started)).ToList();
        result.Requests = samples.Count;
        result.ErrorsByStatus = FaultWindows.ErrorsByStatus(samples);
        var before = new TimeWindow(result.Span.Start, faultStart ?? now);
        result.P99Before = Latency.P99(samples, before, Routes.Predict);
        if (faultStart is { } start && returned is { } back)
        {
            result.P99During = Latency.P99(samples, new TimeWindow(start, back), Routes.Predict);
            result.P99After = Latency.P99(samples, new TimeWindow(back, now), Routes.Predict);
        }
    }

    private static void CheckRecovery(ScenarioResult result, List<RequestSample> samples, string route, DateTimeOffset returned, TimeSpan limit)
    {
        var recovery = Recovery.Time(samples, route, returned, result.Span.End);
        result.RecoveryTime = recovery;
        result.Recovered = recovery is not null && recovery <= limit;
        result.Check(result.Recovered == true,
            recovery is null ? $"{route} did not recover" : $"{route} succeeded again {recovery.Value.TotalSeconds:0.0} s after the return (limit {limit.TotalSeconds} s)");
    }

    /// <summary>Restarts python-inference with the dashboard's restart command, waiting until it has stopped and runs again.</summary>
    private async Task RestartAsync(string instance, CancellationToken cancellationToken)
    {
        var before = stack.ServicePid(instance);
        await stack.CommandAsync(instance, KnownResourceCommands.RestartCommand, cancellationToken);
        await stack.WaitForAsync(instance, s => s?.State?.Text == KnownResourceStates.Running && stack.ServicePid(instance) != before, cancellationToken);
    }

    /// <summary>Waits until the instance itself answers /health; returns when it did.</summary>
    private async Task<DateTimeOffset> WaitAnswersAsync(string instance, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            if (stack.OwnAddress(instance) is { } address)
            {
                try
                {
                    using var response = await http.GetAsync(new Uri(address, "/health"), cancellationToken);
                    if (response.IsSuccessStatusCode)
                    {
                        return DateTimeOffset.UtcNow;
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                }
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>
    /// The samples grouped by status, code and detail, each group with when its requests started and how long the
    /// longest took: the times to look up in the resources' logs (<see cref="ChaosApp.LogDirectory"/>).
    /// </summary>
    private static string Details(List<RequestSample> samples) => string.Join("; ",
        samples.GroupBy(s => $"{s.Status} {s.Code}: {s.Detail ?? "(no detail)"}").Select(g =>
        {
            var (first, last) = (g.Min(s => s.Started), g.Max(s => s.Started));
            var started = first == last ? $"{first:HH:mm:ss.fff}" : $"{first:HH:mm:ss.fff}–{last:HH:mm:ss.fff}";
            return $"{g.Key} ×{g.Count()} (started {started} UTC, ended after at most {Ms(g.Max(s => s.Latency))} ms)";
        }));

    private static string Summary(List<RequestSample> samples) =>
        samples.Count == 0 ? "none" : string.Join(", ", FaultWindows.ErrorsByStatus(samples).Select(e => $"{e.Key}: {e.Value}")
            .Prepend($"{samples.Count(s => s.Succeeded)} ok"));

    private static string Refusals(List<(int Status, string? Code, bool RetryAfter)> refusals) =>
        refusals.Count == 0 ? "none" : string.Join(", ", refusals.GroupBy(r => $"{r.Status} {r.Code}{(r.RetryAfter ? "" : " without Retry-After")}")
            .Select(g => $"{g.Key}: {g.Count()}"));

    private static string Ms(TimeSpan? value) => value is { } v ? v.TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture) : "—";

    private void Log(string line) => log.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");
}
