namespace Chaos.Tests;

public sealed class ChaosOptionsTests
{
    [Fact]
    public void Quick_waits_less_for_a_fault_s_jobs_than_the_full_run()
    {
        var quick = ChaosOptions.Parse(["--quick"]);
        var full = ChaosOptions.Parse([]);

        Assert.Equal(TimeSpan.FromSeconds(10), quick.Settle);
        Assert.Equal(TimeSpan.FromSeconds(90), full.Settle);
        Assert.False(quick.SoakOnly || full.SoakOnly);
    }

    [Fact]
    public void Soak_only_sets_the_soak_s_length_and_keeps_the_mode_s_warm_up()
    {
        var options = ChaosOptions.Parse(["--quick", "--soak-only", "170", "--out", "/tmp/x"]);

        Assert.True(options.SoakOnly);
        Assert.Equal(TimeSpan.FromSeconds(170), options.Soak);
        Assert.Equal(TimeSpan.FromSeconds(5), options.SoakWarmUp);
        Assert.Equal("/tmp/x", options.OutputDirectory);
    }

    [Fact]
    public void Postgres_puts_the_state_in_postgresql_beside_any_mode_and_is_named_in_the_report()
    {
        var options = ChaosOptions.Parse(["--disk-only", "--postgres", "--out", "/tmp/x"]);

        Assert.True(options.Postgres && options.DiskOnly);
        Assert.Equal("full --disk-only --postgres", options.Mode);
        Assert.True(ChaosOptions.Parse(["--quick", "--soak-only", "60", "--postgres"]).Postgres);
        Assert.False(ChaosOptions.Parse([]).Postgres);
        Assert.Equal("full", ChaosOptions.Parse([]).Mode);
    }

    [Fact]
    public void The_run_is_given_as_much_longer_as_its_soak_is()
    {
        Assert.Equal(TimeSpan.FromMinutes(40), ChaosOptions.Parse([]).RunLimit);
        Assert.Equal(TimeSpan.FromMinutes(90), ChaosOptions.Parse(["--soak-only", "3600"]).RunLimit);
        Assert.True(ChaosOptions.Parse(["--quick"]).RunLimit < TimeSpan.FromMinutes(11));
    }

    [Fact]
    public void Slow_only_keeps_the_mode_s_windows_and_refuses_a_soak_beside_it()
    {
        var options = ChaosOptions.Parse(["--quick", "--slow-only"]);

        Assert.True(options.SlowOnly);
        Assert.False(options.SoakOnly);
        Assert.Equal(ChaosOptions.Parse(["--quick"]).SlowFor, options.SlowFor);
        Assert.False(ChaosOptions.Parse(["--quick"]).SlowOnly);
        Assert.Throws<ArgumentException>(() => ChaosOptions.Parse(["--slow-only", "--soak-only", "120"]));
    }

    [Fact]
    public void Disk_only_runs_the_disk_stall_alone_and_excludes_the_other_single_scenario_modes()
    {
        var options = ChaosOptions.Parse(["--disk-only", "--state-disk", "/mnt/state"]);

        Assert.True(options.DiskOnly);
        Assert.False(options.SlowOnly || options.SoakOnly);
        Assert.Equal("full --disk-only", options.Mode);
        Assert.Throws<ArgumentException>(() => ChaosOptions.Parse(["--disk-only", "--slow-only"]));
        Assert.Throws<ArgumentException>(() => ChaosOptions.Parse(["--disk-only", "--soak-only", "120"]));
    }

    [Fact]
    public void The_state_disk_is_the_file_system_run_sh_mounted_and_none_without_it()
    {
        Assert.Equal("/tmp/chaos-state-disk.1/mnt", ChaosOptions.Parse(["--quick", "--state-disk", "/tmp/chaos-state-disk.1/mnt"]).StateDisk);
        Assert.Null(ChaosOptions.Parse(["--quick"]).StateDisk);
    }

    [Theory]
    [InlineData(new string[0], "full")]
    [InlineData(new[] { "--quick" }, "--quick")]
    [InlineData(new[] { "--slow-only" }, "full --slow-only")]
    [InlineData(new[] { "--quick", "--soak-only", "170" }, "--quick --soak-only 170")]
    public void The_report_names_the_run_by_its_mode(string[] args, string mode) =>
        Assert.Equal(mode, ChaosOptions.Parse(args).Mode);

    [Theory]
    [InlineData("--soak-only", "5")]
    [InlineData("--soak-only", "soon")]
    [InlineData("--soak", "60")]
    public void A_soak_no_longer_than_its_warm_up_or_an_unknown_argument_is_refused(string name, string value) =>
        Assert.Throws<ArgumentException>(() => ChaosOptions.Parse(["--quick", name, value]));
}
