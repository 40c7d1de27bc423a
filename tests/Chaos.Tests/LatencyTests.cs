using static Chaos.Tests.Samples;

namespace Chaos.Tests;

public sealed class LatencyTests
{
    [Fact]
    public void P99_of_a_hundred_samples_is_the_99th_smallest()
    {
        var latencies = Enumerable.Range(1, 100).Select(ms => TimeSpan.FromMilliseconds(ms)).Reverse();

        Assert.Equal(TimeSpan.FromMilliseconds(99), Latency.Percentile(latencies, 99));
        Assert.Equal(TimeSpan.FromMilliseconds(50), Latency.Percentile(latencies, 50));
    }

    [Fact]
    public void One_slow_request_among_ten_is_the_p99()
    {
        var latencies = Enumerable.Repeat(TimeSpan.FromMilliseconds(5), 9).Append(TimeSpan.FromSeconds(2));

        Assert.Equal(TimeSpan.FromSeconds(2), Latency.Percentile(latencies, 99));
    }

    [Fact]
    public void No_samples_have_no_percentile() => Assert.Null(Latency.Percentile([], 99));

    [Fact]
    public void P99_counts_only_the_window_and_the_routes_asked_for()
    {
        RequestSample[] samples =
        [
            Ok(1, ms: 10), Ok(2, ms: 20), Ok(2.5, ms: 5000, route: Routes.SubmitJob), Ok(9, ms: 9000),
        ];

        Assert.Equal(TimeSpan.FromMilliseconds(20), Latency.P99(samples, Window(0, 5), Routes.Predict));
        Assert.Equal(TimeSpan.FromMilliseconds(5000), Latency.P99(samples, Window(0, 5)));
        Assert.Null(Latency.P99(samples, Window(3, 5), Routes.Predict));
    }

    [Theory]
    [InlineData(40, 80, true)]
    [InlineData(40, 81, false)]
    [InlineData(3, 39, true)] // a 3 ms quiet p99 counts as the 20 ms floor
    [InlineData(3, 41, false)]
    public void A_route_stays_flat_within_twice_its_quiet_p99(double quietMs, double duringMs, bool flat) =>
        Assert.Equal(flat, Latency.StaysFlat(TimeSpan.FromMilliseconds(quietMs), TimeSpan.FromMilliseconds(duringMs), 2,
            TimeSpan.FromMilliseconds(20)));

    [Fact]
    public void Nothing_measured_is_not_flat()
    {
        Assert.False(Latency.StaysFlat(TimeSpan.FromMilliseconds(10), null, 2, TimeSpan.Zero));
        Assert.False(Latency.StaysFlat(null, TimeSpan.FromMilliseconds(10), 2, TimeSpan.Zero));
    }
}
