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
}
