namespace Chaos;

/// <summary>How long each part of the run lasts: the full run, or <c>--quick</c> (each fault once, about 3 minutes).</summary>
public sealed record ChaosOptions(
    bool Quick,
    TimeSpan WarmUp,
    TimeSpan Saturation,
    TimeSpan Before,
    TimeSpan Gap,
    TimeSpan SlowFor,
    TimeSpan After,
    TimeSpan Soak,
    TimeSpan SoakWarmUp,
    TimeSpan Drain,
    TimeSpan Settle,
    string OutputDirectory,
    bool SoakOnly = false,
    bool SlowOnly = false,
    string? StateDisk = null,
    bool DiskOnly = false,
    bool Postgres = false)
{
    /// <summary>
    /// How long the disk-stall scenario keeps the state's file system frozen: as long as the longest stall the machine's
    /// own disk was seen to make in a run (4.0 s), four times the gateway's wait for a slot.
    /// </summary>
    public static readonly TimeSpan DiskStall = TimeSpan.FromSeconds(4);

    /// <summary>
    /// Saturation windows measured back to back, the run taking their median: three in the full run, one in
    /// <c>--quick</c> (its time is short and its verdict only a developer's check).
    /// </summary>
    public int SaturationWindows => Quick ? 1 : 3;

    /// <summary>How soon predictions must succeed again once python-inference is back.</summary>
    public static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(5);

    /// <summary>The p99 of the gateway's answers while python-inference is gone.</summary>
    public static readonly TimeSpan FastFailureLimit = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest the run may take once the stack is up: 40 minutes for the full run (17 are its own), 10 for
    /// <c>--quick</c>, and as much longer as a <c>--soak-only</c> soak is (an hour's soak was cut at 40 minutes).
    /// </summary>
    public TimeSpan RunLimit => TimeSpan.FromMinutes(Quick ? 10 : 30) + Soak;

    /// <summary>
    /// How the report names the run: "full", "--quick", and "--slow-only", "--disk-only" or "--soak-only S" after either,
    /// then "--postgres" when the Worker's jobs and python-inference's counts are in PostgreSQL.
    /// </summary>
    public string Mode => (Quick ? "--quick" : "full")
        + (SlowOnly ? " --slow-only" : DiskOnly ? " --disk-only" : SoakOnly ? $" --soak-only {Soak.TotalSeconds:0}" : "")
        + (Postgres ? " --postgres" : "");

    public static ChaosOptions Parse(string[] args)
    {
        const string usage = "usage: [--quick] [--soak-only SECONDS | --slow-only | --disk-only] [--postgres] [--out DIR] [--state-disk DIR]";
        var quick = args.Contains("--quick");
        var output = ValueOf(args, "--out") ?? Path.Combine("artifacts", "chaos");
        var soakOnly = ValueOf(args, "--soak-only");
        var slowOnly = args.Contains("--slow-only");
        var diskOnly = args.Contains("--disk-only");
        // The state in the machine's PostgreSQL (Database:Provider=postgres, run locally) instead of SQLite files.
        var postgres = args.Contains("--postgres");
        // A file system of the run's own for the state (run.sh mounts one when it can), which the disk-stall scenario freezes.
        var stateDisk = ValueOf(args, "--state-disk");
        var unknown = args.Where(a => a is not "--quick" and not "--out" and not "--soak-only" and not "--slow-only" and not "--disk-only" and not "--postgres" and not "--state-disk"
            && a != output && a != soakOnly && a != stateDisk).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"unknown argument(s): {string.Join(' ', unknown)} ({usage})");
        }

        static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);
        var options = quick
            ? new ChaosOptions(true, S(6), S(3), S(4), S(5), S(6), S(6), S(20), S(5), S(90), S(10), output)
            : new ChaosOptions(false, S(30), S(10), S(20), S(15), S(30), S(30), S(600), S(60), S(240), S(90), output);
        options = options with { StateDisk = stateDisk, Postgres = postgres };
        if ((slowOnly ? 1 : 0) + (diskOnly ? 1 : 0) + (soakOnly is null ? 0 : 1) > 1)
        {
            throw new ArgumentException($"--slow-only, --disk-only and --soak-only exclude each other ({usage})");
        }

        if (soakOnly is null)
        {
            // Only the python-inference-slow scenario, or only the disk stall (no soak): to look into what the other
            // routes do meanwhile.
            return options with { SlowOnly = slowOnly, DiskOnly = diskOnly };
        }

        // Only the warm-up, the saturation measurement and a soak of the given length: to look into growth.
        if (!int.TryParse(soakOnly, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds <= options.SoakWarmUp.TotalSeconds)
        {
            throw new ArgumentException($"--soak-only takes the soak's length in seconds, more than its warm-up ({options.SoakWarmUp.TotalSeconds} s) ({usage})");
        }

        return options with { Soak = S(seconds), SoakOnly = true };
    }

    /// <summary>The driver's variables named <c>CHAOS_WORKER_</c>&lt;key&gt;, as the Worker's &lt;key&gt;.</summary>
    public static IEnumerable<(string Name, string Value)> WorkerOverrides(System.Collections.IDictionary environment) =>
        Overrides("CHAOS_WORKER_", environment);

    /// <summary>The driver's variables named <c>CHAOS_GATEWAY_</c>&lt;key&gt;, as the gateway's &lt;key&gt;.</summary>
    public static IEnumerable<(string Name, string Value)> GatewayOverrides(System.Collections.IDictionary environment) =>
        Overrides("CHAOS_GATEWAY_", environment);

    private static IEnumerable<(string Name, string Value)> Overrides(string prefix, System.Collections.IDictionary environment) =>
        from entry in environment.Cast<System.Collections.DictionaryEntry>()
        let name = (string)entry.Key
        where name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length
        orderby name
        select (name[prefix.Length..], (string?)entry.Value ?? "");

    private static string? ValueOf(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
}
