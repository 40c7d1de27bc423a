namespace Chaos.Tests;

public sealed class ResourceGrowthTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void Growth_within_ten_percent_and_the_allowance_passes() =>
        Assert.Empty(ResourceGrowth.Violations("gateway", new(200 * MiB, 100, 40), new(252 * MiB, 108, 48), GrowthAllowance.Default));

    [Fact]
    public void Rss_past_ten_percent_plus_the_allowance_is_a_leak()
    {
        var violations = ResourceGrowth.Violations("gateway", new(200 * MiB, 100, 40), new(253 * MiB, 100, 40), GrowthAllowance.Default);

        Assert.Equal(["gateway: RSS 200 → 253 MiB (limit 252 MiB)"], violations);
    }

    [Fact]
    public void Growing_open_files_and_threads_are_leaks()
    {
        var violations = ResourceGrowth.Violations("worker", new(100 * MiB, 100, 40), new(90 * MiB, 109, 49), GrowthAllowance.Default);

        Assert.Equal(2, violations.Count);
        Assert.Contains(violations, v => v.Contains("open files 100 → 109", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.Contains("threads 40 → 49", StringComparison.Ordinal));
    }

    [Fact]
    public void A_growth_that_does_not_stay_through_the_last_readings_is_not_a_leak()
    {
        // The gateway's pools to the Workers grew in a burst of latency seconds before the end (the 01:56 run of 2026-12-05):
        // the reading before was within the allowance, so nothing leaked.
        // Open files count its callers' connections too: its own are 366 → 370, 369 and 383.
        var start = new ProcessFootprint(200 * MiB, 536, 24, 170, 14);
        ProcessFootprint[] last = [new(202 * MiB, 530, 24, 160, 18), new(205 * MiB, 544, 24, 175, 17), new(207 * MiB, 589, 24, 206, 31)];

        Assert.Empty(ResourceGrowth.LastingViolations("gateway", start, last, GrowthAllowance.Default));
        Assert.Single(ResourceGrowth.Violations("gateway", start, last[^1], GrowthAllowance.Default));
    }

    [Fact]
    public void A_growth_that_stays_through_every_last_reading_is_a_leak_quoted_at_its_lowest()
    {
        var start = new ProcessFootprint(182 * MiB, 41, 20);
        ProcessFootprint[] last = [new(251 * MiB, 41, 20), new(262 * MiB, 50, 29), new(271 * MiB, 41, 30)];

        var violations = ResourceGrowth.LastingViolations("messaging", start, last, GrowthAllowance.Default);

        Assert.Equal(["messaging: RSS 182 → 251 MiB (limit 232 MiB; the lowest of the last 3 readings, a minute apart)"], violations);
    }

    [Fact]
    public void Connections_its_callers_hold_are_not_the_process_s_open_files()
    {
        // 400 more connections from an open-loop load whose latency rose: the callers' pool, not a leak.
        Assert.Empty(ResourceGrowth.Violations("gateway", new(200 * MiB, 500, 40, 100), new(200 * MiB, 900, 40, 500), GrowthAllowance.Default));

        var violations = ResourceGrowth.Violations("gateway", new(200 * MiB, 500, 40, 100), new(200 * MiB, 909, 40, 400), GrowthAllowance.Default);
        Assert.Equal(["gateway: open files 400 → 509 (limit 408; not counting its callers' connections, 100 → 400; " +
            "of its own, connections it opened 0 → 0)"], violations);
    }

    [Fact]
    public void A_growth_of_its_own_open_files_says_how_much_of_it_was_connections_it_opened()
    {
        var violations = ResourceGrowth.Violations("gateway", new(200 * MiB, 465, 23, 100, 6), new(200 * MiB, 474, 23, 100, 15),
            GrowthAllowance.Default);

        Assert.Equal(["gateway: open files 365 → 374 (limit 373; not counting its callers' connections, 100 → 100; " +
            "of its own, connections it opened 6 → 15)"], violations);
    }

    [Fact]
    public void Callers_connections_are_the_established_ones_on_its_own_listening_ports()
    {
        string[] table =
        [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0", // its listener, port 8080
            "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 101 1 0 20 4 30 10 -1", // a caller's connection
            "   2: 0100007F:1F90 0100007F:D432 01 00000000:00000000 00:00000000 00000000     0        0 102 1 0 20 4 30 10 -1", // another
            "   3: 0100007F:1F90 0100007F:D433 08 00000000:00000000 00:00000000 00000000     0        0 103 1 0 20 4 30 10 -1", // CLOSE_WAIT: its own to close
            "   4: 0100007F:D434 0100007F:2710 01 00000000:00000000 00:00000000 00000000     0        0 104 1 0 20 4 30 10 -1", // its own, outbound
            "   5: 0100007F:2710 0100007F:D434 01 00000000:00000000 00:00000000 00000000     0        0 105 1 0 20 4 30 10 -1", // another process's server side
            "   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D435 01 00000000:00000000 00:00000000 00000000     0        0 106 1 0 20 4 30 10 -1", // IPv6
        ];
        HashSet<string> its = ["100", "101", "102", "103", "104", "106"];

        Assert.Equal((3, 1), ResourceGrowth.Connections(its, table));
    }

    [Fact]
    public void Shrinking_is_never_a_leak() =>
        Assert.Empty(ResourceGrowth.Violations("python", new(300 * MiB, 50, 20), new(100 * MiB, 10, 5), GrowthAllowance.Default));

    [Fact]
    public void The_footprint_of_a_live_process_is_read_from_proc()
    {
        var footprint = ResourceGrowth.Read(Environment.ProcessId);

        Assert.NotNull(footprint);
        Assert.True(footprint.RssBytes > MiB && footprint.OpenFiles > 0 && footprint.Threads > 0, $"{footprint}");
    }

    [Fact]
    public void A_process_that_is_gone_has_no_footprint() => Assert.Null(ResourceGrowth.Read(int.MaxValue));

    [Fact]
    public void Footprints_are_read_together_one_per_process_in_order()
    {
        var footprints = ResourceGrowth.Read([Environment.ProcessId, int.MaxValue, Environment.ProcessId]);

        Assert.Equal(3, footprints.Count);
        Assert.NotNull(footprints[0]);
        Assert.Null(footprints[1]);
        Assert.NotNull(footprints[2]);
    }

    [Fact]
    public void Resident_memory_alone_is_read_cheaply_and_is_zero_for_a_process_that_is_gone()
    {
        Assert.True(ResourceGrowth.Rss(Environment.ProcessId) > MiB);
        Assert.Equal(0, ResourceGrowth.Rss(int.MaxValue));
    }
}
