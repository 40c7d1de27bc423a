using Chaos.Load;

namespace Chaos.Tests;

public sealed class LoadMixTests
{
    private static readonly TimeSpan TenSeconds = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_caller_goes_through_one_job_one_read_then_the_predictions()
    {
        var routes = Enumerable.Range(0, 24).Select(n => LoadMix.Default.RouteOf(n)).ToList();

        Assert.Equal([Routes.SubmitJob, Routes.ReadJob, .. Enumerable.Repeat(Routes.Predict, 10)], routes[..12]);
        Assert.Equal(routes[..12], routes[12..]);
    }

    [Fact]
    public void Callers_start_spread_over_the_mix()
    {
        var first = Enumerable.Range(0, 64).Select(caller => LoadMix.Default.RouteOf(LoadMix.Default.FirstRequestOf(caller, 64))).ToList();

        // 64 callers over a mix of 12: each slot has 5 or 6 of them, so each stream starts in its proportion.
        Assert.InRange(first.Count(r => r == Routes.SubmitJob), 5, 6);
        Assert.InRange(first.Count(r => r == Routes.ReadJob), 5, 6);
        Assert.InRange(first.Count(r => r == Routes.Predict), 52, 54);
        Assert.Equal(0, LoadMix.Default.FirstRequestOf(0, 64));
    }

    [Fact]
    public void Half_of_saturation_is_half_of_every_stream_in_the_mix_proportions()
    {
        var rates = LoadMix.Default.At(60.0 / 2);

        Assert.Equal(new LoadRates(300, 30, 30), rates);
    }

    [Fact]
    public void Saturation_counts_whole_mixes_per_second()
    {
        var measured = new MixMeasurement(Predictions: 6000, JobsAccepted: 600, Reads: 600, JobsUnfinished: 0, TenSeconds);

        Assert.Equal(60, LoadMix.Default.SustainedMixesPerSecond(measured), 6);
    }

    [Fact]
    public void Jobs_the_Worker_had_not_finished_were_not_sustained()
    {
        // The gateway accepted 600 jobs, but 200 were still waiting: the stack sustained 400 of them in 10 s.
        var measured = new MixMeasurement(Predictions: 6000, JobsAccepted: 600, Reads: 600, JobsUnfinished: 200, TenSeconds);

        Assert.Equal(40, LoadMix.Default.SustainedMixesPerSecond(measured), 6);
    }

    [Fact]
    public void The_scarcest_stream_sets_the_rate()
    {
        var fewReads = new MixMeasurement(Predictions: 6000, JobsAccepted: 600, Reads: 300, JobsUnfinished: 0, TenSeconds);
        var fewPredictions = new MixMeasurement(Predictions: 2000, JobsAccepted: 600, Reads: 600, JobsUnfinished: 0, TenSeconds);

        Assert.Equal(30, LoadMix.Default.SustainedMixesPerSecond(fewReads), 6);
        Assert.Equal(20, LoadMix.Default.SustainedMixesPerSecond(fewPredictions), 6);
    }

    [Fact]
    public void Nothing_answered_is_no_saturation()
    {
        Assert.Equal(0, LoadMix.Default.SustainedMixesPerSecond(new MixMeasurement(0, 10, 0, 20, TenSeconds)));
        Assert.Equal(0, LoadMix.Default.SustainedMixesPerSecond(new MixMeasurement(10, 10, 10, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void Saturation_from_several_windows_is_their_median()
    {
        MixMeasurement Window(int mixes) => new(mixes * 10, mixes, mixes, 0, TenSeconds);

        Assert.Equal(11, LoadMix.Default.SustainedMixesPerSecond([Window(170), Window(110), Window(107)]), 6);
        Assert.Equal(12, LoadMix.Default.SustainedMixesPerSecond([Window(100), Window(140)]), 6);
        Assert.Equal(7, LoadMix.Default.SustainedMixesPerSecond([Window(70)]), 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadMix.Default.SustainedMixesPerSecond(Array.Empty<MixMeasurement>()));
    }

    [Fact]
    public void The_full_run_takes_the_median_of_three_saturation_windows_and_quick_one() =>
        Assert.Equal((3, 1), (ChaosOptions.Parse([]).SaturationWindows, ChaosOptions.Parse(["--quick"]).SaturationWindows));
}
