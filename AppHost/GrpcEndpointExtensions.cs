namespace AppHost;

public static class GrpcEndpointExtensions
{
    public const string EndpointName = "grpc";
    public const string PortVariable = "GRPC_PORT";

    /// <summary>
    /// A second endpoint, <c>grpc</c> (HTTP/2 cleartext), discovered as <c>services__&lt;name&gt;__grpc__0</c>. Kestrel
    /// binds it from ASPNETCORE_URLS like the <c>http</c> one, and <c>GRPC_PORT</c> (its target port, per replica) tells
    /// the service which listener to make HTTP/2-only: h2c needs prior knowledge, which Kestrel offers only there.
    /// (<c>WithHttpEndpoint(env: ...)</c> would leave the endpoint out of ASPNETCORE_URLS for the app to bind itself.)
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithGrpcEndpoint(this IResourceBuilder<ProjectResource> project)
    {
        project.WithHttpEndpoint(name: EndpointName)
            .WithEndpoint(EndpointName, endpoint => endpoint.Transport = "http2");
        return project.WithEnvironment(PortVariable, project.GetEndpoint(EndpointName).Property(EndpointProperty.TargetPort));
    }
}
