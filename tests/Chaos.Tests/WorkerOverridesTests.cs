namespace Chaos.Tests;

public sealed class WorkerOverridesTests
{
    [Fact]
    public void The_drivers_CHAOS_WORKER_variables_are_given_to_the_worker_without_the_prefix()
    {
        var environment = new System.Collections.Hashtable
        {
            ["CHAOS_WORKER_Database__SqliteMinThreads"] = "0",
            ["CHAOS_WORKER_"] = "no key",
            ["Database__SqliteMinThreads"] = "8",
            ["PATH"] = "/usr/bin",
        };

        Assert.Equal([("Database__SqliteMinThreads", "0")], ChaosOptions.WorkerOverrides(environment));
    }
}
