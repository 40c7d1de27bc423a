using AppHost.Deployment;

namespace AppHost;

/// <summary>
/// The keys the Worker's callers sign their tokens with, one per caller: the gateway, python-inference and, in run mode,
/// the dashboard's commands (Aspire secret parameters: generated and kept in the AppHost's user secrets locally, Secret
/// keys in the published manifests). The Worker holds every caller's key and takes a token's issuer to pick the key,
/// so python-inference's key cannot speak for the gateway.
/// </summary>
public static class ServiceIdentity
{
    public const string GatewayKeyParameter = "worker-token-key-gateway";
    public const string InferenceKeyParameter = "worker-token-key-python-inference";

    /// <summary>The key of the dashboard's commands (the AppHost itself calling the Worker); run mode only.</summary>
    public const string DashboardKeyParameter = "worker-token-key-dashboard";

    /// <summary>The name the Worker knows the dashboard's commands by (<c>Auth:Callers:dashboard</c>, scope <c>admin</c>).</summary>
    public const string DashboardCaller = "dashboard";

    /// <summary>How long a dashboard command's token is valid: one call.</summary>
    public static readonly TimeSpan DashboardTokenLifetime = TimeSpan.FromMinutes(1);

    /// <summary>The AppHost setting that picks python-inference's transport to the registry: <c>Grpc</c> (default) or <c>Http</c>.</summary>
    public const string RegistryTransportKey = "Registry:Transport";

    /// <summary>Each caller's key; the dashboard's only when the AppHost runs the application (null when it publishes).</summary>
    public sealed record CallerKeys(IResourceBuilder<ParameterResource> Gateway, IResourceBuilder<ParameterResource> Inference,
        IResourceBuilder<ParameterResource>? Dashboard);

    /// <summary>
    /// The callers' keys. The dashboard's exists in run mode only: a published deployment has no dashboard commands,
    /// so its manifests and Secrets know no such key, and the Worker (for which that caller is optional) accepts none.
    /// </summary>
    public static CallerKeys AddWorkerCallerKeys(this IDistributedApplicationBuilder builder) => new(
        builder.AddParameter(GatewayKeyParameter, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true),
        builder.AddParameter(InferenceKeyParameter, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true),
        builder.ExecutionContext.IsRunMode
            ? builder.AddParameter(DashboardKeyParameter, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true)
            : null);

    /// <summary>The Worker trusts tokens from the gateway, python-inference and (run mode) the dashboard, each signed with its own key.</summary>
    public static IResourceBuilder<ProjectResource> WithCallers(this IResourceBuilder<ProjectResource> worker, CallerKeys keys)
    {
        worker.WithEnvironment("Auth__Callers__gateway__SigningKey", keys.Gateway)
            .WithEnvironment("Auth__Callers__python-inference__SigningKey", keys.Inference);
        return keys.Dashboard is { } dashboard ? worker.WithEnvironment("Auth__Callers__dashboard__SigningKey", dashboard) : worker;
    }

    /// <summary>
    /// A token for one dashboard command: HS256 over the dashboard's key (read now, as the command runs), issuer
    /// <c>dashboard</c>, audience <c>worker</c>, scope <c>admin</c>, valid <see cref="DashboardTokenLifetime"/>. The
    /// Worker audits the command's changes under the caller <c>dashboard</c>.
    /// </summary>
    public static async Task<string> DashboardTokenAsync(ParameterResource key, CancellationToken cancellationToken)
    {
        var secret = await key.GetValueAsync(cancellationToken)
                     ?? throw new InvalidOperationException($"The parameter {key.Name} has no value.");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new Dictionary<string, object>
        {
            ["iss"] = DashboardCaller, ["aud"] = "worker", ["sub"] = DashboardCaller, ["scope"] = "admin",
            ["iat"] = now, ["nbf"] = now, ["exp"] = now + (long)DashboardTokenLifetime.TotalSeconds,
        };
        var unsigned = System.Buffers.Text.Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8) + "." +
                       System.Buffers.Text.Base64Url.EncodeToString(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret),
            System.Text.Encoding.ASCII.GetBytes(unsigned));
        return unsigned + "." + System.Buffers.Text.Base64Url.EncodeToString(signature);
    }

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
