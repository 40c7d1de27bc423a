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

    [Fact]
    public void The_drivers_CHAOS_GATEWAY_variables_are_given_to_the_gateway_and_not_to_the_worker()
    {
        var environment = new System.Collections.Hashtable
        {
            ["CHAOS_GATEWAY_Inference__Transport"] = "Grpc",
            ["CHAOS_WORKER_Logging__LogLevel__Default"] = "Debug",
        };

        Assert.Equal([("Inference__Transport", "Grpc")], ChaosOptions.GatewayOverrides(environment));
        Assert.Equal([("Logging__LogLevel__Default", "Debug")], ChaosOptions.WorkerOverrides(environment));
    }
}
