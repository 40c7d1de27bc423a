using System.Net;
using System.Net.Sockets;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServiceDefaults.Problems;
using Worker.Apis;
using Worker.Registry;
using Worker.Security;
using Worker.Tests.Security;

namespace Worker.Tests.Registry;

/// <summary>
/// The registry as the Worker serves it, and nothing else (no broker): Kestrel on two localhost ports given the way
/// Aspire gives them (ASPNETCORE_URLS with both, GRPC_PORT naming the gRPC one), a real database, the gRPC service
/// and the HTTP/JSON API.
/// </summary>
internal sealed class RegistryHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RegistryHost(WebApplication app, TemporaryJobStore database, int httpPort, int grpcPort)
    {
        _app = app;
        Database = database;
        HttpAddress = new Uri($"http://localhost:{httpPort}");
        GrpcAddress = new Uri($"http://localhost:{grpcPort}");
        Channel = GrpcChannel.ForAddress(GrpcAddress, new GrpcChannelOptions { HttpHandler = Authorized() });
    }

    public TemporaryJobStore Database { get; }

    public Uri HttpAddress { get; }

    public Uri GrpcAddress { get; }

    public GrpcChannel Channel { get; }

    public global::Registry.V1.ModelRegistry.ModelRegistryClient Client => new(Channel);

    /// <summary>A caller of these tests only, holding every registry scope (no real caller holds them all).</summary>
    public const string TestCaller = "registry-tests";

    private const string TestCallerKey = "registry-tests-caller-key-0123456789abc";

    /// <summary>A client of the HTTP API that sends the test caller's token.</summary>
    public HttpClient CreateHttpClient() => new(Authorized()) { BaseAddress = HttpAddress };

    private static BearerHandler Authorized() =>
        new BearerHandler(ServiceTokens.Create(TestCaller, TestCallerKey, TestCaller,
            "predict admin registry.register registry.read", lifetime: TimeSpan.FromMinutes(5)))
        {
            InnerHandler = new SocketsHttpHandler(),
        };

    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }

    public static async Task<RegistryHost> StartAsync()
    {
        // A port found free can be taken by another process before Kestrel binds it (the end-to-end suite runs
        // beside this one), so a start that meets a taken port tries again with new ones.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnFreePortsAsync();
            }
            catch (IOException exception) when (attempt < 5 && exception.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
            }
        }
    }

    private static async Task<RegistryHost> StartOnFreePortsAsync()
    {
        var database = await TemporaryJobStore.CreateAsync();
        var (httpPort, grpcPort) = (TestHarness.LoopbackPorts.FreeOnBoth(), TestHarness.LoopbackPorts.FreeOnBoth());
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://localhost:{httpPort}", $"http://localhost:{grpcPort}");
        builder.Configuration[GrpcEndpointOptions.PortVariable] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Services.AddProblemDetailsContract();
        builder.Services.AddSingleton<IModelRegistryStore>(database.Registry);
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Configuration[$"Auth:Callers:{TestCaller}:SigningKey"] = TestCallerKey;
        foreach (var (key, value) in ServiceTokens.WorkerSettings)
        {
            builder.Configuration[key] = value; // the production callers, which the test output's appsettings.json lists
        }

        foreach (var (i, scope) in new[] { "predict", "admin", "registry.register", "registry.read" }.Index())
        {
            builder.Configuration[$"Auth:Callers:{TestCaller}:Scopes:{i}"] = scope;
        }

        builder.AddCallerAuthentication();
        builder.AddGrpcEndpoint();
        var app = builder.Build();
        app.UseProblemDetailsContract();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapRegistryApi();
        app.MapGrpcService<ModelRegistryService>();
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new RegistryHost(app, database, httpPort, grpcPort);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.DisposeAsync();
        await Database.DisposeAsync();
    }
}
