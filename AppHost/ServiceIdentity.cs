using AppHost.Deployment;

namespace AppHost;

/// <summary>
/// The keys the Worker's callers sign their tokens with, one per caller (Aspire secret parameters: generated and kept
/// in the AppHost's user secrets locally, Secret keys in the published manifests). The Worker holds every caller's key
/// and takes a token's issuer to pick the key, so python-inference's key cannot speak for the gateway.
/// </summary>
public static class ServiceIdentity
{
    public const string GatewayKeyParameter = "worker-token-key-gateway";
    public const string InferenceKeyParameter = "worker-token-key-python-inference";

    /// <summary>The AppHost setting that picks python-inference's transport to the registry: <c>Grpc</c> (default) or <c>Http</c>.</summary>
    public const string RegistryTransportKey = "Registry:Transport";

    public sealed record CallerKeys(IResourceBuilder<ParameterResource> Gateway, IResourceBuilder<ParameterResource> Inference);

    public static CallerKeys AddWorkerCallerKeys(this IDistributedApplicationBuilder builder) => new(
        builder.AddParameter(GatewayKeyParameter, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true),
        builder.AddParameter(InferenceKeyParameter, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true));

    /// <summary>The Worker trusts tokens from the gateway and python-inference, each signed with its own key.</summary>
    public static IResourceBuilder<ProjectResource> WithCallers(this IResourceBuilder<ProjectResource> worker, CallerKeys keys) =>
        worker.WithEnvironment("Auth__Callers__gateway__SigningKey", keys.Gateway)
            .WithEnvironment("Auth__Callers__python-inference__SigningKey", keys.Inference);

    /// <summary>The gateway signs its calls to the Worker with its key, acting for the user.</summary>
    public static IResourceBuilder<ProjectResource> WithWorkerToken(this IResourceBuilder<ProjectResource> gateway, CallerKeys keys) =>
        gateway.WithEnvironment("WorkerAuth__SigningKey", keys.Gateway);

    /// <summary>
    /// python-inference signs its registry calls with its key, over the transport the AppHost's <c>Registry:Transport</c>
    /// names (gRPC unless it says Http); in the cluster it may reach only that endpoint of the Worker.
    /// </summary>
    public static IResourceBuilder<T> WithWorkerToken<T>(this IResourceBuilder<T> inference, CallerKeys keys,
        IResourceBuilder<ProjectResource> worker, IDistributedApplicationBuilder builder)
        where T : IResourceWithEnvironment
    {
        var http = string.Equals(builder.Configuration[RegistryTransportKey], "Http", StringComparison.OrdinalIgnoreCase);
        return inference.WithEnvironment("WORKER_TOKEN_KEY", keys.Inference)
            .WithEnvironment("Registry__Transport", http ? "Http" : "Grpc")
            .CallsInCluster(worker, http ? "http" : GrpcEndpointExtensions.EndpointName);
    }
}
