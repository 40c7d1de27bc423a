using AppHost.Deployment;

namespace AppHost;

public static class GatewayEndpointExtensions
{
    /// <summary>The AppHost's setting that chooses how the gateway reaches python-inference (<c>Grpc</c>, its default, or <c>Http</c>).</summary>
    public const string InferenceTransportKey = "Gateway:InferenceTransport";

    /// <summary>
    /// The gateway's transport in the Aspire manifest (for azd) unless <see cref="InferenceTransportKey"/> says
    /// otherwise. A gRPC channel sends every call over one HTTP/2 connection, and a platform that reaches
    /// python-inference's second port over plain TCP pins that connection to one replica; HTTP/JSON's pool of
    /// connections spreads over them. The kustomize base keeps gRPC, balanced by the gateway itself over
    /// python-inference's pods (<c>BalancesGrpcInCluster</c>, docs/deployment.md).
    /// </summary>
    public const string ManifestInferenceTransport = "Http";

    /// <summary>
    /// Passes <see cref="InferenceTransportKey"/>, when set, to the gateway alone as its <c>Inference:Transport</c> (the
    /// Worker reads a key of that name too, for its own calls): <c>--Gateway:InferenceTransport Http</c> runs the gateway
    /// over HTTP/JSON. Unset, a run keeps the gateway's default (gRPC), and a publish writes
    /// <see cref="ManifestInferenceTransport"/> into the Aspire manifest and gRPC into the kustomize base.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithInferenceTransport(this IResourceBuilder<ProjectResource> gateway,
        IDistributedApplicationBuilder builder) =>
        builder.Configuration[InferenceTransportKey] is { Length: > 0 } chosen
            ? gateway.WithEnvironment("Inference__Transport", chosen)
            : builder.ExecutionContext.IsPublishMode
                ? gateway.WithEnvironment("Inference__Transport", ManifestInferenceTransport).InCluster("Inference__Transport", "Grpc")
                : gateway;

    /// <summary>
    /// Published, TLS ends at the platform's ingress (the Kubernetes Ingress, Azure Container Apps' ingress), so the
    /// gateway gets plain HTTP with <c>X-Forwarded-Proto: https</c>. It accepts bearer tokens over HTTPS only (outside
    /// Development) and counts that header only when told to (<c>Auth:TrustForwardedProto</c>, docs/security.md); in
    /// both the Aspire manifest and the kustomize base it is told to. In Kubernetes its network policy admits nothing
    /// but the Ingress controller, which makes the header trustworthy.
    /// </summary>
    public static IResourceBuilder<ProjectResource> TrustsIngressTlsWhenPublished(this IResourceBuilder<ProjectResource> gateway) =>
        gateway.ApplicationBuilder.ExecutionContext.IsPublishMode
            ? gateway.WithEnvironment("Auth__TrustForwardedProto", "true")
            : gateway;

    /// <summary>
    /// The service listens on the endpoint itself, without Aspire's proxy; on <paramref name="port"/> when one is
    /// given (else the port of its launch profile). Without a proxy the port and the target port are one.
    /// </summary>
    public static void ListenItself(this EndpointAnnotation endpoint, int? port)
    {
        endpoint.IsProxied = false;
        if (port is { } chosen)
        {
            (endpoint.Port, endpoint.TargetPort) = (chosen, chosen);
        }
    }
}
