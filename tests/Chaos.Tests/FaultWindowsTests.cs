using static Chaos.Tests.Samples;

namespace Chaos.Tests;

public sealed class FaultWindowsTests
{
    [Fact]
    public void A_5xx_inside_a_fault_window_is_allowed_and_one_outside_is_not()
    {
        RequestSample[] samples = [Failed(5), Failed(15), Failed(25, status: 500, code: "internal_error")];

        var outside = FaultWindows.ServerFailuresOutside(samples, [Window(0, 10), Window(20, 24)]);

        Assert.Equal([At(15), At(25)], outside.Select(s => s.Started));
    }

    [Fact]
    public void A_request_without_an_answer_counts_as_a_server_failure() =>
        Assert.Single(FaultWindows.ServerFailuresOutside([Failed(1, status: 0, code: "HttpRequestException")], []));

    [Fact]
    public void Client_errors_and_successes_are_never_server_failures() =>
        Assert.Empty(FaultWindows.ServerFailuresOutside([Ok(1), Failed(2, status: 429, code: "job_quota_exceeded")], []));

    [Fact]
    public void The_window_ends_before_its_end_instant() =>
        Assert.Single(FaultWindows.ServerFailuresOutside([Failed(10)], [Window(0, 10)]));

    [Fact]
    public void A_request_in_flight_when_the_fault_began_is_inside_its_window()
    {
        RequestSample[] samples = [Failed(9.8, ms: 300), Failed(9.5, ms: 300)];

        var outside = FaultWindows.ServerFailuresOutside(samples, [Window(10, 20)]);

        Assert.Equal([At(9.5)], outside.Select(s => s.Started)); // it ended at 9.8 s, before the fault
    }

    [Fact]
    public void Failures_outside_the_windows_are_placed_after_the_window_before_them_by_route()
    {
        RequestSample[] failures = [Failed(16.2), Failed(17.1), Failed(2), Failed(30, route: Routes.SubmitJob)];

        var when = FaultWindows.DescribeWhen(failures, [Window(5, 10), Window(12, 16), Window(25, 26)]);

        Assert.Equal("predict 1, before any fault window; predict 2, 0.2–1.1 s after a fault window ended; " +
            "submit-job 1, 4.0–4.0 s after a fault window ended", when);
    }

    [Fact]
    public void A_pause_of_the_machine_and_the_seconds_after_it_are_a_window_and_the_clocks_drift_is_not()
    {
        var clockJumps = new ProbeSeries("machine paused", [
            new ProbeSample(At(1), TimeSpan.FromMilliseconds(2)),
            new ProbeSample(At(30), TimeSpan.FromMilliseconds(249)),
            new ProbeSample(At(60), TimeSpan.FromSeconds(3.75)),
            new ProbeSample(At(63.85), TimeSpan.Zero),
        ]);

        var pause = Assert.Single(FaultWindows.MachinePaused(clockJumps));

        Assert.Equal(Window(60, 60 + 3.75 + FaultWindows.AfterPause.TotalSeconds), pause.Window);
        Assert.Null(pause.HoldsUp);
        RequestSample[] samples = [Failed(59.9, ms: 200), Failed(64.5, route: Routes.SubmitJob), Failed(73.7), Failed(73.8)];
        Assert.Equal([At(73.8)], samples.Where(s => !pause.Excuses(s)).Select(s => s.Started));
    }

    [Fact]
    public void A_stall_of_the_disk_excuses_only_the_submissions_it_held_up_and_a_slow_write_under_a_second_is_no_stall()
    {
        var syncedWrites = new ProbeSeries("disk fsync", [
            new ProbeSample(At(1), TimeSpan.FromMilliseconds(0.4)),
            new ProbeSample(At(20), TimeSpan.FromMilliseconds(999)),
            new ProbeSample(At(40), TimeSpan.FromSeconds(4)),
            new ProbeSample(At(44.1), TimeSpan.FromMilliseconds(0.3)),
        ]);

        var stall = Assert.Single(FaultWindows.DiskStalled(syncedWrites));

        Assert.Equal(Window(40, 44 + FaultWindows.AfterDiskStall.TotalSeconds), stall.Window);
        RequestSample[] samples =
        [
            Failed(20.5, route: Routes.SubmitJob), // during the slow write under a second: counted
            Failed(39.5, ms: 600, route: Routes.SubmitJob), Failed(43, route: Routes.SubmitJob), Failed(48.9, route: Routes.SubmitJob),
            Failed(42), Failed(42.5, route: Routes.ReadJob), // a prediction and a read do not wait on the disk: counted
            Failed(49.1, route: Routes.SubmitJob), // after the window: counted
        ];
        Assert.Equal([At(20.5), At(42), At(42.5), At(49.1)], samples.Where(s => !stall.Excuses(s)).Select(s => s.Started));
    }

    [Fact]
    public void A_synced_write_the_probe_gave_up_on_is_a_stall_of_the_disk() =>
        Assert.Single(FaultWindows.DiskStalled(new ProbeSeries("disk fsync", [new ProbeSample(At(5), TimeSpan.FromMilliseconds(10), Failed: true)])));

    [Fact]
    public void A_stall_the_run_made_itself_by_freezing_the_disk_is_not_the_machines()
    {
        var syncedWrites = new ProbeSeries("disk fsync", [
            new ProbeSample(At(9.95), TimeSpan.FromSeconds(4.1)), // under way when the run froze the disk at 10 s
            new ProbeSample(At(30), TimeSpan.FromSeconds(2)), // the machine's own, later
        ]);

        var stall = Assert.Single(FaultWindows.DiskStalled(syncedWrites, [Window(10, 14)]));

        Assert.Equal(At(30), stall.Window.Start);
        Assert.Equal(2, FaultWindows.DiskStalled(syncedWrites).Count);
    }

    [Fact]
    public void Errors_are_counted_by_status_and_code()
    {
        RequestSample[] samples = [Ok(1), Failed(2), Failed(3), Failed(4, status: 504, code: "upstream_timeout"), Failed(5, status: 0, code: "x"), Failed(6, code: null)];

        Assert.Equal(new Dictionary<string, int>
        {
            ["503"] = 1, ["503 upstream_unavailable"] = 2, ["504 upstream_timeout"] = 1, ["no answer"] = 1,
        }, FaultWindows.ErrorsByStatus(samples));
    }
}
