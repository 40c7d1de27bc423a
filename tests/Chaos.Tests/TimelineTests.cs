using static Chaos.Tests.Samples;

namespace Chaos.Tests;

public sealed class TimelineTests
{
    [Fact]
    public void Each_slice_counts_what_started_in_it_what_failed_and_what_was_still_in_flight_by_route_group()
    {
        RequestSample[] samples =
        [
            Ok(9.1, ms: 1500), // still in flight at 10.0 and 10.5
            Ok(9.8, ms: 100),
            Failed(10.1, code: "concurrency_limited", ms: 3),
            Ok(10.2, ms: 40),
            Ok(10.3, ms: 20),
            Ok(10.2, ms: 300, route: Routes.ReadJob),
            Failed(10.6, status: 0, code: "x", ms: 30000, route: Routes.SubmitJob),
        ];

        var slices = Timeline.Around(samples, At(10), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500));

        Assert.Equal([-1.0, -0.5, 0.0, 0.5], slices.Select(s => s.From.TotalSeconds));
        var atTen = slices[2];
        Assert.Equal(new Timeline.RouteSlice(3, 1, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(40), 1), atTen.Predictions);
        Assert.Equal(new Timeline.RouteSlice(1, 0, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300), 0), atTen.Jobs);
        Assert.Equal(1, slices[3].Predictions.InFlight);
        Assert.Equal(new Timeline.RouteSlice(1, 1, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), 0), slices[3].Jobs);
        Assert.Equal(new Timeline.RouteSlice(1, 0, TimeSpan.FromMilliseconds(1500), TimeSpan.FromMilliseconds(1500), 0), slices[0].Predictions);
        Assert.Equal(new Timeline.RouteSlice(1, 0, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), 1), slices[1].Predictions);
    }

    [Fact]
    public void The_table_has_a_row_per_slice_and_a_dash_where_nothing_started()
    {
        var table = Timeline.Table(Timeline.Around([Ok(10.1, ms: 12)], At(10), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(0.5),
            TimeSpan.FromMilliseconds(250)));

        var rows = table.TrimEnd().Split('\n');
        Assert.Equal(6, rows.Length);
        Assert.Equal("| -0.50 | 0 | 0 | 0 | — / — | 0 | 0 | 0 | — / — |", rows[2].TrimEnd('\r'));
        Assert.Equal("| 0.00 | 1 | 0 | 0 | 12 / 12 | 0 | 0 | 0 | — / — |", rows[4].TrimEnd('\r'));
    }

    [Fact]
    public void Each_slice_shows_each_probes_longest_wait_under_way_in_it_a_stall_in_every_slice_it_spans()
    {
        var disk = new ProbeSeries("disk fsync", [Probe(9.0, ms: 0.4), Probe(9.6, ms: 1200), Probe(10.9, ms: 2)]);
        var broker = new ProbeSeries("broker confirm", [Probe(10.1, ms: 5000, failed: true)]);

        var slices = Timeline.Around([Ok(10.1, ms: 12)], At(10), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1),
            TimeSpan.FromMilliseconds(500), [disk, broker]);

        Assert.Equal(new Timeline.ProbeSlice(TimeSpan.FromMilliseconds(0.4), false), slices[0].Probes[0]);
        Assert.Equal(new Timeline.ProbeSlice(TimeSpan.FromMilliseconds(1200), false), slices[1].Probes[0]);
        Assert.Equal(new Timeline.ProbeSlice(TimeSpan.FromMilliseconds(1200), false), slices[2].Probes[0]); // began before it
        Assert.Equal(new Timeline.ProbeSlice(TimeSpan.FromMilliseconds(1200), false), slices[3].Probes[0]); // 9.6 + 1.2 s > 10.5
        Assert.Equal(new Timeline.ProbeSlice(null, false), slices[1].Probes[1]);
        Assert.Equal(new Timeline.ProbeSlice(TimeSpan.FromSeconds(5), true), slices[3].Probes[1]);

        var rows = Timeline.Table(slices, ["disk fsync", "broker confirm"]).TrimEnd().Split('\n');
        Assert.EndsWith(" disk fsync, longest (ms) | broker confirm, longest (ms) |", rows[0].TrimEnd('\r'), StringComparison.Ordinal);
        Assert.Equal("|---|---|---|---|---|---|---|---|---|---|---|", rows[1].TrimEnd('\r'));
        Assert.Equal("| -1.00 | 0 | 0 | 0 | — / — | 0 | 0 | 0 | — / — | 0.4 | — |", rows[2].TrimEnd('\r'));
        Assert.Equal("| +0.50 | 0 | 0 | 0 | — / — | 0 | 0 | 0 | — / — | 1200 | 5000 (failed) |", rows[5].TrimEnd('\r'));
    }

    [Fact]
    public void Without_probes_the_table_keeps_its_columns()
    {
        var table = Timeline.Table(Timeline.Around([Ok(10.1, ms: 12)], At(10), TimeSpan.Zero, TimeSpan.FromSeconds(0.25),
            TimeSpan.FromMilliseconds(250)));

        Assert.Equal("| 0.00 | 1 | 0 | 0 | 12 / 12 | 0 | 0 | 0 | — / — |", table.TrimEnd().Split('\n')[2].TrimEnd('\r'));
    }

    private static ProbeSample Probe(double at, double ms, bool failed = false) => new(At(at), TimeSpan.FromMilliseconds(ms), failed);
}
