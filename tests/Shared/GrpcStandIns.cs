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
/// The resolver for <c>dns:///</c> addresses failing as Grpc.Net.Client's DNS resolver does for a name that does not
/// resolve (its status, with the resolver's <see cref="System.Net.Sockets.SocketException"/>): a headless Service
/// with no ready pod.
/// </summary>
public sealed class UnresolvableDnsName : ResolverFactory
{
    public override string Name => GrpcBalancing.DnsScheme;

    public override Resolver Create(ResolverOptions options) => new Failing(options.LoggerFactory);

    private sealed class Failing(Microsoft.Extensions.Logging.ILoggerFactory loggerFactory) : PollingResolver(loggerFactory)
    {
        protected override Task ResolveAsync(CancellationToken cancellationToken)
        {
            Listener(ResolverResult.ForFailure(new Status(StatusCode.Unavailable, "Error getting DNS hosts for address " +
                "'python-inference-headless'.", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound))));
            return Task.CompletedTask;
        }
    }
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

/// <summary>Which stand-in server answered each call, and whether they took turns.</summary>
public static class Turns
{
    /// <summary>The names of the servers that answered <paramref name="count"/> calls, in order.</summary>
    public static async Task<List<string>> AnsweredByAsync(int count, Func<Task<string>> call)
    {
        var answeredBy = new List<string>();
        for (var i = 0; i < count; i++)
        {
            answeredBy.Add(await call());
        }

        return answeredBy;
    }

    /// <summary>Round-robin once every connection is up: the last ten calls went evenly to <paramref name="servers"/>.</summary>
    public static void AssertTaken(IReadOnlyList<string> answeredBy, params string[] servers)
    {
        var last = answeredBy.TakeLast(10).ToList();
        Assert.All(servers, server => Assert.Equal(10 / servers.Length, last.Count(name => name == server)));
    }
}
