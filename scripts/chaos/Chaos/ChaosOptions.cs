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
    string OutputDirectory)
{
    /// <summary>How soon predictions must succeed again once python-inference is back.</summary>
    public static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(5);

    /// <summary>The p99 of the gateway's answers while python-inference is gone.</summary>
    public static readonly TimeSpan FastFailureLimit = TimeSpan.FromMilliseconds(100);

    public static ChaosOptions Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? Path.Combine("artifacts", "chaos");
        var unknown = args.Where(a => a is not "--quick" and not "--out" && a != output).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"unknown argument(s): {string.Join(' ', unknown)} (usage: [--quick] [--out DIR])");
        }

        static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);
        return quick
            ? new ChaosOptions(true, S(8), S(3), S(5), S(5), S(8), S(8), S(30), S(10), S(90), output)
            : new ChaosOptions(false, S(30), S(10), S(20), S(15), S(30), S(30), S(600), S(60), S(240), output);
    }
}
