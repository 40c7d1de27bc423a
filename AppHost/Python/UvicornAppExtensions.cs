using Aspire.Hosting.ApplicationModel;

namespace AppHost.Python;

/// <summary>
/// Runs a FastAPI/ASGI app with uvicorn from <c>&lt;appDirectory&gt;/.venv</c>. Aspire.Hosting.Python's
/// <c>AddUvicornApp</c> does the same where that package is available (docs/deployment.md: "Python hosting").
/// </summary>
public static class UvicornAppExtensions
{
    public static IResourceBuilder<UvicornAppResource> AddUvicornApp(
        this IDistributedApplicationBuilder builder, string name, string appDirectory, string appModule)
    {
        var directory = Path.GetFullPath(appDirectory, builder.AppHostDirectory);
        var python = Path.Combine(directory, ".venv", "bin", "python");
        if (builder.ExecutionContext.IsRunMode && !File.Exists(python))
        {
            throw new DistributedApplicationException(
                $"{python} not found: the Python environment has not been set up. Run ./run.sh (or scripts/setup.sh) once.");
        }

        var resource = new UvicornAppResource(name, python, directory);
        return builder.AddResource(resource)
            // Not proxied: when the app is down its port refuses connections, as it would in production; a proxy
            // would accept them and leave callers waiting for a timeout.
            .WithHttpEndpoint(name: UvicornAppResource.HttpEndpointName, env: "PORT", isProxied: false)
            // The app's gRPC server (HTTP/2 cleartext, prior knowledge) runs in the same process on GRPC_PORT; it is
            // discovered as http://_grpc.<name>. Not proxied, for the same reason as the HTTP endpoint.
            .WithEndpoint(name: UvicornAppResource.GrpcEndpointName, scheme: "http", env: "GRPC_PORT", isProxied: false)
            .WithEndpoint(UvicornAppResource.GrpcEndpointName, endpoint => endpoint.Transport = "http2")
            .WithArgs(context =>
            {
                context.Args.Add("-m");
                context.Args.Add("uvicorn");
                context.Args.Add(appModule);
                context.Args.Add("--host");
                context.Args.Add("127.0.0.1");
                context.Args.Add("--port");
                context.Args.Add(resource.HttpEndpoint.Property(EndpointProperty.TargetPort));
            })
            .WithEnvironment("PYTHONUNBUFFERED", "1")
            // The dashboard takes OTLP/HTTP with JSON bodies, which a standard-library exporter can speak.
            .WithOtlpExporter(OtlpProtocol.HttpJson);
    }
}
