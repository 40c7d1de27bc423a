namespace AppHost;

public static class GatewayEndpointExtensions
{
    /// <summary>The AppHost's setting that chooses how the gateway reaches python-inference (<c>Grpc</c>, its default, or <c>Http</c>).</summary>
    public const string InferenceTransportKey = "Gateway:InferenceTransport";

    /// <summary>
    /// Passes <see cref="InferenceTransportKey"/>, when set, to the gateway alone as its <c>Inference:Transport</c> (the
    /// Worker reads a key of that name too, for its own calls): <c>--Gateway:InferenceTransport Http</c> runs the gateway
    /// over HTTP/JSON. Unset, the gateway keeps its default.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithInferenceTransport(this IResourceBuilder<ProjectResource> gateway,
        IDistributedApplicationBuilder builder) =>
        builder.Configuration[InferenceTransportKey] is { Length: > 0 } transport
            ? gateway.WithEnvironment("Inference__Transport", transport)
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
