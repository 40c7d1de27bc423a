using Chaos.Load;
using static Chaos.Tests.Samples;

namespace Chaos.Tests;

public sealed class StallProbeTests
{
    [Fact]
    public async Task Each_wait_is_recorded_with_its_length_and_a_wait_that_threw_or_passed_the_limit_as_failed()
    {
        var calls = 0;
        var probe = new StallProbe("test", async cancellationToken =>
        {
            switch (Interlocked.Increment(ref calls))
            {
                case 1:
                    await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
                    break;
                case 2:
                    throw new InvalidOperationException("the broker restarted");
                case 3:
                    await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken); // cut off by the limit
                    break;
            }
        });
        using var stop = new CancellationTokenSource();

        var running = probe.RunAsync(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(500), stop.Token);
        while (probe.Series.Samples.Count < 4)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await stop.CancelAsync();
        await running;

        var samples = probe.Series.Samples;
        Assert.Equal("test", probe.Series.Name);
        Assert.InRange(samples[0].Latency, TimeSpan.FromMilliseconds(190), TimeSpan.FromSeconds(2));
        Assert.False(samples[0].Failed);
        Assert.True(samples[1].Failed);
        Assert.True(samples[2].Failed);
        Assert.InRange(samples[2].Latency, TimeSpan.FromMilliseconds(490), TimeSpan.FromSeconds(5));
        Assert.False(samples[3].Failed);
        Assert.True(samples[1].Started >= samples[0].Started + samples[0].Latency, "one wait at a time");
    }

    [Fact]
    public async Task A_timer_is_recorded_as_how_late_it_fired_from_when_it_was_due()
    {
        var period = TimeSpan.FromMilliseconds(100);
        var calls = 0;
        var probe = new StallProbe("timer", async cancellationToken =>
        {
            // The second wait is held up 400 ms past its period, as a pause of the process would.
            await Task.Delay(Interlocked.Increment(ref calls) == 2 ? period * 5 : period, cancellationToken);
        }, expected: period);
        using var stop = new CancellationTokenSource();
        var before = DateTimeOffset.UtcNow;

        var running = probe.RunAsync(TimeSpan.Zero, TimeSpan.FromSeconds(5), stop.Token);
        while (probe.Series.Samples.Count < 3)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await stop.CancelAsync();
        await running;

        var samples = probe.Series.Samples;
        Assert.True(samples[0].Started >= before + period, "a timer's lateness begins when it was due");
        Assert.InRange(samples[1].Latency, TimeSpan.FromMilliseconds(390), TimeSpan.FromSeconds(2));
        Assert.True(samples[0].Latency < TimeSpan.FromMilliseconds(300), $"on time, or nearly: {samples[0].Latency}");
    }

    [Fact]
    public async Task A_jump_of_the_wall_clock_past_the_monotonic_one_is_recorded_as_a_pause_of_the_machine()
    {
        // As a virtual machine restored from a snapshot sees it: its monotonic clock did not count the pause, and its
        // wall clock is set forward when it resumes.
        var clock = new JumpingClock();
        var probe = StallProbe.ClockJumps("machine paused", TimeSpan.FromMilliseconds(20), clock);
        using var stop = new CancellationTokenSource();

        var running = probe.RunAsync(TimeSpan.Zero, TimeSpan.FromSeconds(5), stop.Token);
        await UntilAsync(() => probe.Series.Samples.Count >= 5);
        var jumped = DateTimeOffset.UtcNow;
        clock.Jump(TimeSpan.FromSeconds(3.75));
        var seen = probe.Series.Samples.Count;
        await UntilAsync(() => probe.Series.Samples.Count >= seen + 5);
        await stop.CancelAsync();
        await running;

        var pause = Assert.Single(probe.Series.Samples, s => s.Latency > TimeSpan.FromMilliseconds(100));
        Assert.InRange(pause.Latency, TimeSpan.FromSeconds(3.74), TimeSpan.FromSeconds(3.76));
        Assert.InRange(pause.Started, jumped - TimeSpan.FromSeconds(1), jumped);
        Assert.All(probe.Series.Samples.Where(s => s != pause), s => Assert.True(s.Latency < TimeSpan.FromMilliseconds(10), $"{s.Latency}"));
        var samples = probe.Series.Samples;
        Assert.All(samples.Zip(samples.Skip(1)), pair => Assert.True(pair.Second.Started >= pair.First.Started, "one reading after another"));
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The system's clocks, but a wall clock that can be set forward.</summary>
    private sealed class JumpingClock : TimeProvider
    {
        private long _ahead;

        public void Jump(TimeSpan by) => Interlocked.Add(ref _ahead, by.Ticks);

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _ahead));
    }

    [Fact]
    public void The_summary_gives_the_percentiles_the_longest_wait_and_when_it_began()
    {
        var series = new ProbeSeries("disk fsync", [
            .. Enumerable.Range(0, 99).Select(i => new ProbeSample(At(i), TimeSpan.FromMilliseconds(0.5))),
            new ProbeSample(At(120.25), TimeSpan.FromMilliseconds(5300)),
        ]);

        Assert.Equal("disk fsync: p50 0.5 / p99 0.5 / longest 5300 ms (from 04:02:00.250 UTC) in 100 waits",
            ProbeSummary.Line(series));
        Assert.Equal("broker confirm: p50 12 / p99 12 / longest 12 ms (from 04:00:01.000 UTC, failed) in 1 waits, 1 failed",
            ProbeSummary.Line(new ProbeSeries("broker confirm", [new ProbeSample(At(1), TimeSpan.FromMilliseconds(12), Failed: true)])));
        Assert.Equal("none: no waits measured", ProbeSummary.Line(new ProbeSeries("none", [])));
    }
}
