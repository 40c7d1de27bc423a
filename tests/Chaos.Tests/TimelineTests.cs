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
}
