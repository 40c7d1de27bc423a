using Aspire.Hosting.ApplicationModel;

namespace AppHost.Python;

/// <summary>A Python ASGI app served by uvicorn from the project's own virtual environment.</summary>
public sealed class UvicornAppResource(string name, string pythonExecutable, string appDirectory)
    : ExecutableResource(name, pythonExecutable, appDirectory), IResourceWithServiceDiscovery
{
    internal const string HttpEndpointName = "http";
    internal const string GrpcEndpointName = "grpc";

    public EndpointReference HttpEndpoint => new(this, HttpEndpointName);
}
