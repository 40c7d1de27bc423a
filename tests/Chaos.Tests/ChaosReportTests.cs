using static Chaos.Tests.Samples;

namespace Chaos.Tests;

public sealed class ChaosReportTests
{
    [Fact]
    public void The_table_has_one_row_per_scenario_with_its_figures_and_verdict()
    {
        var held = new ScenarioResult("python-inference killed")
        {
            Requests = 1234, ErrorsByStatus = new Dictionary<string, int> { ["503 upstream_unavailable"] = 40 },
            Jobs = new JobTally(10, 10, 0, 0, 0, 0), Recovered = true, RecoveryTime = TimeSpan.FromSeconds(0.4),
            P99Before = TimeSpan.FromMilliseconds(35), P99During = TimeSpan.FromMilliseconds(4.2), P99After = TimeSpan.FromMilliseconds(40),
        };
        var broken = new ScenarioResult("broker restarted") { Recovered = false, Span = Window(0, 1) };
        broken.Check(false, "submit-job did not recover");

        var table = ChaosReport.Table([held, broken]).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(4, table.Length);
        Assert.Equal("| python-inference killed | 1,234 | 503 upstream_unavailable: 40 | 10 / 10 / 0 / 0 | 0.4 s | 35 / 4.2 / 40 | — | pass |", table[2]);
        Assert.Contains("**not recovered**", table[3], StringComparison.Ordinal);
        Assert.EndsWith("**FAIL** |", table[3], StringComparison.Ordinal);
        Assert.Equal("- broker restarted: submit-job did not recover", ChaosReport.Failures([held, broken]).Trim());
    }

    [Fact]
    public void Checks_that_held_are_kept_apart_from_failures()
    {
        var result = new ScenarioResult("soak");
        result.Check(true, "no request failed");

        Assert.True(result.Passed);
        Assert.Equal(["no request failed"], result.Checks);
    }
}
