namespace Chaos.Tests;

public sealed class WorkerOverridesTests
{
    [Fact]
    public void The_drivers_CHAOS_WORKER_variables_are_given_to_the_worker_without_the_prefix()
    {
        var environment = new System.Collections.Hashtable
        {
            ["CHAOS_WORKER_Logging__LogLevel__Default"] = "Debug",
            ["CHAOS_WORKER_"] = "no key",
            ["Logging__LogLevel__Default"] = "Warning",
            ["PATH"] = "/usr/bin",
        };

        Assert.Equal([("Logging__LogLevel__Default", "Debug")], ChaosOptions.WorkerOverrides(environment));
    }
}
