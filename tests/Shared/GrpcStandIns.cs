using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using InferenceV1 = global::Inference.V1;

namespace Tests.Upstreams;

/// <summary>
/// The resolver for <c>dns:///</c> addresses, answering these loopback ports whatever the name: no name here resolves
/// to two loopback addresses, as a headless Service's does to its pods. Registered before the service's own, so the
/// channel takes it.
/// </summary>
public sealed class FixedDnsAddresses(params int[] ports) : ResolverFactory
{
    private readonly StaticResolverFactory _addresses =
        new(_ => ports.Select(port => new BalancerAddress("127.0.0.1", port)));

    public override string Name => GrpcBalancing.DnsScheme;

    public override Resolver Create(ResolverOptions options) => _addresses.Create(options);
}

/// <summary>
/// A stand-in python-inference on a loopback port (HTTP/2 cleartext, as the real one serves gRPC) whose one model is
/// named after the server, so a caller sees which server answered.
/// </summary>
public sealed class NamedInferenceServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private NamedInferenceServer(WebApplication app) => _app = app;

    public int Port => new Uri(_app.Urls.Single()).Port;

    public static async Task<NamedInferenceServer> StartAsync(string name, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel =>
            kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new Service(name));
        var app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync(cancellationToken);
        return new NamedInferenceServer(app);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private sealed class Service(string name) : InferenceV1.Inference.InferenceBase
    {
        public override Task<InferenceV1.ListModelsResponse> ListModels(InferenceV1.ListModelsRequest request, ServerCallContext context) =>
            Task.FromResult(new InferenceV1.ListModelsResponse { Models = { new InferenceV1.ModelInfo { Name = name } } });
    }
}
