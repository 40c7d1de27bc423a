using Microsoft.Extensions.Configuration;

namespace AppHost.Operations;

/// <summary>
/// Benchmarks only (run mode): <c>AppHost:UnbatchedGatewayPort=N</c> adds <c>gateway-unbatched</c>, the gateway again
/// with <c>Inference:Batching:Enabled=false</c>, listening itself on port N, so a benchmark compares the gateway with
/// and without batching as the AppHost starts both. Started by the orchestrator like every service, it shares their
/// session and so their scheduling group on Linux (autogroup); a copy started by the benchmark's shell would be
/// scheduled in the shell's group, beside the load generator, and there it took the cores from python-inference
/// often enough to lose about a tenth of its rate (docs/performance.md, "Whose group the gateway runs in").
/// </summary>
public static class UnbatchedGateway
{
    public const string PortKey = "AppHost:UnbatchedGatewayPort";

    public const string ResourceName = "gateway-unbatched";

    /// <summary>
    /// Adds the unbatched gateway when <see cref="PortKey"/> names a port (never in publish mode); <paramref name="upstreams"/>
    /// gives it the main gateway's calls to python-inference and the Worker.
    /// </summary>
    public static IDistributedApplicationBuilder AddUnbatchedGatewayWhenAsked(this IDistributedApplicationBuilder builder,
        Func<IResourceBuilder<ProjectResource>, IResourceBuilder<ProjectResource>> upstreams)
    {
        if (builder.ExecutionContext.IsPublishMode || builder.Configuration.GetValue<int?>(PortKey) is not { } port)
        {
            return builder;
        }

        // No launch profile: it would add the main gateway's ports. Its one setting, the environment, is kept.
        var gateway = builder.AddProject<Projects.Gateway>(ResourceName, launchProfileName: null)
            .WithHttpEndpoint(port: port, targetPort: port, name: "http", isProxied: false)
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
            .WithEnvironment("Inference__Batching__Enabled", "false")
            .WithHttpHealthCheck("/health", endpointName: "http");
        upstreams(gateway);
        return builder;
    }
}
