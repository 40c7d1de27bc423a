using System.Globalization;
using System.Text;

namespace Chaos.Verdict;

/// <summary>One scenario's figures and the reasons it failed (none: it passed).</summary>
public sealed class ScenarioResult(string name)
{
    public string Name { get; } = name;

    /// <summary>From the start of its "before" window to the end of its "after" window.</summary>
    public TimeWindow Span { get; set; }

    /// <summary>From the injection of its fault until the service was back and the allowed recovery time had passed.</summary>
    public List<TimeWindow> Faults { get; } = [];

    public int Requests { get; set; }

    public IReadOnlyDictionary<string, int> ErrorsByStatus { get; set; } = new Dictionary<string, int>();

    /// <summary>The ids the gateway accepted during this scenario; counted into <see cref="Jobs"/> once the run drained.</summary>
    public List<Guid> AcceptedJobs { get; } = [];

    public JobTally Jobs { get; set; } = JobTally.None;

    /// <summary>Null: not applicable; see <see cref="Recovered"/>.</summary>
    public TimeSpan? RecoveryTime { get; set; }

    /// <summary>False when the scenario has a recovery to measure and it did not happen.</summary>
    public bool? Recovered { get; set; }

    public TimeSpan? P99Before { get; set; }
    public TimeSpan? P99During { get; set; }
    public TimeSpan? P99After { get; set; }

    /// <summary>Sum of the RSS of every process watched, at the start and the end of the scenario.</summary>
    public long? MemoryStart { get; set; }
    public long? MemoryEnd { get; set; }

    public List<string> Failures { get; } = [];

    /// <summary>What the report adds under the failures to explain one (Markdown: a heading line and a table).</summary>
    public List<string> Diagnostics { get; } = [];

    /// <summary>What was checked and held, for the report (one line each).</summary>
    public List<string> Checks { get; } = [];

    public bool Passed => Failures.Count == 0;

    /// <summary>Records a check: held, or a failure with its reason.</summary>
    public void Check(bool held, string what)
    {
        if (held)
        {
            Checks.Add(what);
        }
        else
        {
            Failures.Add(what);
        }
    }
}

/// <summary>The run's table (Markdown), as printed and as written under artifacts/chaos/.</summary>
public static class ChaosReport
{
    public static string Table(IEnumerable<ScenarioResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| scenario | requests | errors by status | jobs accepted / completed / lost / duplicated | recovery | p99 before / during / after (ms) | memory start → end (MiB) | verdict |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
        {
            var errors = r.ErrorsByStatus.Count == 0 ? "none" : string.Join(", ", r.ErrorsByStatus.Select(e => $"{e.Key}: {e.Value}"));
            var jobs = r.Jobs.Accepted == 0 ? "—"
                : $"{r.Jobs.Accepted} / {r.Jobs.Completed} / {r.Jobs.Lost + r.Jobs.Unfinished} / {r.Jobs.Duplicated}"
                  + (r.Jobs.Failed > 0 ? $" ({r.Jobs.Failed} failed)" : "");
            var recovery = r.Recovered switch
            {
                null => "—",
                false => "**not recovered**",
                true => $"{Seconds(r.RecoveryTime ?? TimeSpan.Zero)} s",
            };
            var memory = r.MemoryStart is { } start && r.MemoryEnd is { } end
                ? $"{ResourceGrowth.Mib(start)} → {ResourceGrowth.Mib(end)}" : "—";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Requests:N0} | {errors} | {jobs} | {recovery} | {Ms(r.P99Before)} / {Ms(r.P99During)} / {Ms(r.P99After)} | {memory} | {(r.Passed ? "pass" : "**FAIL**")} |");
        }

        return text.ToString();
    }

    /// <summary>Every failure, one line each, under its scenario.</summary>
    public static string Failures(IEnumerable<ScenarioResult> results)
    {
        var text = new StringBuilder();
        foreach (var r in results.Where(r => !r.Passed))
        {
            foreach (var failure in r.Failures)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"- {r.Name}: {failure}");
            }
        }

        return text.ToString();
    }

    /// <summary>Every scenario's diagnostics, under its name.</summary>
    public static string Diagnostics(IEnumerable<ScenarioResult> results)
    {
        var text = new StringBuilder();
        foreach (var r in results)
        {
            foreach (var diagnostic in r.Diagnostics)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{r.Name}: {diagnostic}");
            }
        }

        return text.ToString();
    }

    private static string Ms(TimeSpan? value) =>
        value is { } v ? v.TotalMilliseconds.ToString(v.TotalMilliseconds < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) : "—";

    private static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
}
