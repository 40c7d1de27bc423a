namespace AppHost;

public static class GatewayEndpointExtensions
{
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
