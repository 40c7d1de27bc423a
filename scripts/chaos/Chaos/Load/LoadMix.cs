namespace Chaos.Load;

/// <summary>Requests per second of each stream of the steady load.</summary>
public sealed record LoadRates(double Predictions, double Jobs, double Reads);

/// <summary>
/// What a closed-loop saturation measurement of the mix saw: successful answers per stream, and how many of the jobs
/// it submitted were still queued or running at its end (the Worker's share of the work had not kept up with them).
/// </summary>
public sealed record MixMeasurement(int Predictions, int JobsAccepted, int Reads, int JobsUnfinished, TimeSpan Duration);

/// <summary>
/// The run's load: predictions, job submissions and job reads in fixed proportions. Saturation is measured on this
/// mix (not on predictions alone: a job costs the stack far more CPU than a prediction), and the run applies half of it
/// to each stream, so "half of saturation" is half of what the stack sustains of the load it actually gets.
/// </summary>
public sealed record LoadMix(int Predictions, int Jobs, int Reads)
{
    /// <summary>Ten predictions, one job submission and one read of a recent job.</summary>
    public static readonly LoadMix Default = new(10, 1, 1);

    /// <summary>Requests in one mix: a closed-loop caller goes through them in turn.</summary>
    public int Size => Predictions + Jobs + Reads;

    /// <summary>Which stream the <paramref name="n"/>th request of a caller belongs to: jobs first, then reads, then predictions.</summary>
    public string RouteOf(long n)
    {
        var slot = n % Size;
        return slot < Jobs ? Verdict.Routes.SubmitJob : slot < Jobs + Reads ? Verdict.Routes.ReadJob : Verdict.Routes.Predict;
    }

    /// <summary>
    /// Where closed-loop caller <paramref name="caller"/> of <paramref name="callers"/> starts in the mix: spread over
    /// it, so that even a window of a few mixes per caller sees each stream in its proportion.
    /// </summary>
    public long FirstRequestOf(int caller, int callers) => (long)caller * Size / callers;

    /// <summary>Each stream's rate when the whole mix runs <paramref name="mixesPerSecond"/> times a second.</summary>
    public LoadRates At(double mixesPerSecond) =>
        new(Predictions * mixesPerSecond, Jobs * mixesPerSecond, Reads * mixesPerSecond);

    /// <summary>
    /// Saturation from several measurements: the median of what each window sustained. One 10-second window is not
    /// enough on a shared 2-core machine: five back to back in one run gave 107–143 mixes/s, and "half of saturation"
    /// taken from a lucky window is nearer three quarters of what the stack holds for the rest of the run.
    /// </summary>
    public double SustainedMixesPerSecond(IReadOnlyCollection<MixMeasurement> windows)
    {
        ArgumentOutOfRangeException.ThrowIfZero(windows.Count);
        var sorted = windows.Select(SustainedMixesPerSecond).Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>
    /// Whole mixes per second the stack sustained: the scarcest stream's answers over its share, where a job counts
    /// only once the Worker has finished it (accepted jobs still waiting at the end were not sustained, only queued).
    /// </summary>
    public double SustainedMixesPerSecond(MixMeasurement measured)
    {
        if (measured.Duration <= TimeSpan.Zero)
        {
            return 0;
        }

        var jobsDone = Math.Max(0, measured.JobsAccepted - measured.JobsUnfinished);
        var mixes = Math.Min(
            (double)measured.Predictions / Predictions,
            Math.Min((double)jobsDone / Jobs, (double)measured.Reads / Reads));
        return mixes / measured.Duration.TotalSeconds;
    }
}
