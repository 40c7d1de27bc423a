using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

[assembly: AssemblyFixture(typeof(AppHost.Tests.AppHostFixture))]

namespace AppHost.Tests;

/// <summary>
/// Starts the real AppHost once for the whole assembly: the machine's RabbitMQ, the real python-inference and
/// both C# services, and waits until every one of them reports healthy. SQLite (the default provider); see
/// <see cref="PostgresStackFixture"/> for the same stack on PostgreSQL.
/// </summary>
public class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);
    public static readonly string[] Resources = ["messaging", "python-inference", "worker", "gateway", GrpcGateway];

    /// <summary>
    /// A second gateway the test stack adds, identical but for <c>Inference:Transport=Grpc</c>, so both transports
    /// are exercised end to end in one run.
    /// </summary>
    public const string GrpcGateway = "gateway-grpc";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ResourceEvent> _instances = new();
    private readonly CancellationTokenSource _watching = new();
    private readonly ResourceLogTail _resourceLogs = new();
    private DistributedApplication? _app;
    private Task? _watcher;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The AppHost has not started.");

    /// <summary>How many Worker replicas this stack runs.</summary>
    public virtual int WorkerReplicas => 2;

    /// <summary>AppHost arguments beyond the common ones (e.g. the database provider).</summary>
    protected virtual IEnumerable<string> ExtraArguments => [];

    /// <summary>Resources to wait for beyond <see cref="Resources"/>.</summary>
    protected virtual IEnumerable<string> ExtraResources => [];

    /// <summary>Whether the stack runs the Aspire dashboard (the telemetry tests read it).</summary>
    protected virtual bool WithDashboard => true;

    /// <summary>Whether the gateways' prediction rate limits are lifted (<see cref="TestSettings.LiftedPredictionLimits"/>).</summary>
    protected virtual bool LiftPredictionLimits => true;

    /// <summary>The settings every gateway of this stack gets beyond its token issuer.</summary>
    private IEnumerable<KeyValuePair<string, string>> GatewaySettings =>
        Tokens.GatewaySettings.Concat(TestSettings.Gateway)
            .Concat(LiftPredictionLimits ? TestSettings.LiftedPredictionLimits : []);

    /// <summary>Whether the stack adds <see cref="GrpcGateway"/> (the transport tests use it).</summary>
    protected virtual bool WithGrpcGateway => true;

    /// <summary>
    /// How the stack's <c>gateway</c> reaches python-inference (its <c>Inference:Transport</c>; null: the default, gRPC).
    /// HTTP/JSON on this stack, beside <see cref="GrpcGateway"/>, so the transport tests compare the two; the default
    /// on the PostgreSQL one.
    /// </summary>
    protected virtual string? GatewayTransport => "Http";

    /// <summary>
    /// How python-inference reaches the Worker's registry (the AppHost's <c>Registry:Transport</c>): HTTP/JSON on this
    /// stack, gRPC (the default) on the PostgreSQL one, so each transport runs end to end in one test run.
    /// </summary>
    public virtual string RegistryTransport => "Http";

    /// <summary>
    /// The Worker's <c>Inference:UnreachableWait</c>; null keeps the default. Off on this stack: its poison-job test
    /// makes every attempt fail by stopping python-inference. The PostgreSQL stack keeps the default and tests the wait.
    /// </summary>
    protected virtual TimeSpan? InferenceUnreachableWait => TimeSpan.Zero;

    /// <summary>
    /// python-inference's <c>GRPC_MAX_CONNECTION_AGE</c>; null keeps its default (5 minutes). Two seconds on this
    /// stack, so every gRPC caller of it (<see cref="GrpcGateway"/>, both Worker replicas, the AppHost's health check)
    /// has its connection closed and opens a new one many times in a test run.
    /// </summary>
    public virtual TimeSpan? InferenceConnectionAge => TimeSpan.FromSeconds(2);

    /// <summary>
    /// Whether python-inference serves a model repository (<c>PythonInference:ModelRepository</c>, docs/models.md):
    /// on this stack, one with the example model <c>wine</c>, written before the stack starts by
    /// <c>python-inference/examples/train_wine.py</c> as a team would write its own (<see cref="ModelRepositoryTests"/>).
    /// </summary>
    protected virtual bool WithModelRepository => true;

    /// <summary>The model repository's folder on this stack; null when it has none.</summary>
    public string? ModelRepository { get; private set; }

    /// <summary>The gateway over HTTP, sending a token with the <c>predict</c> and <c>jobs</c> scopes.</summary>
    public HttpClient Gateway { get; private set; } = null!;

    public Tokens Tokens { get; } = new();

    /// <summary>The Aspire dashboard's telemetry API (<c>/api/telemetry/...</c>), authenticated with a key of this run.</summary>
    public HttpClient Dashboard { get; private set; } = null!;

    /// <summary>
    /// The stack's .NET processes (the services, their replicas when restarted, the dashboard) compile each method once,
    /// fully optimised: they inherit this from the test process through the orchestrator. A stack lives for a few
    /// minutes on two cores shared by a dozen processes, where tiered compilation never settles: its background
    /// re-compilations (quick, instrumented, optimised) took about a third of the whole run's CPU (AppHost.Tests alone,
    /// summed over every process: 279 and 324 CPU-seconds with tiering, 185 and 200 without). Production keeps tiering;
    /// only when a method is compiled differs, not what it does.
    /// </summary>
    private static void CompileOnce() => Environment.SetEnvironmentVariable("DOTNET_TieredCompilation", "0");

    public async ValueTask InitializeAsync()
    {
        CompileOnce();
        using var timeout = new CancellationTokenSource(StartTimeout);
        // The testing builder turns the dashboard off; it stays on here (on ports the testing builder picks)
        // because the telemetry it collects from both languages is part of what the tests check.
        var apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        if (WithModelRepository)
        {
            ModelRepository = await WriteExampleModelRepositoryAsync(timeout.Token);
        }

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            ["--Messaging:Runtime=local", "--ASPIRE_ALLOW_UNSECURED_TRANSPORT=true", $"--AppHost:DashboardApiKey={apiKey}",
             // The tests' webhook receivers listen on loopback, which production refuses.
             "--Webhooks:AllowedNetworks:0=127.0.0.0/8", "--Webhooks:AllowedNetworks:1=::1/128",
             $"--Worker:Replicas={WorkerReplicas}", $"--Registry:Transport={RegistryTransport}",
             // The dashboard's telemetry goes to a temporary database, deleted when it stops: by default (Run) Aspire
             // keeps each run's under ~/.aspire/dashboard and only the last ten, so test runs would push out the
             // developer's own (docs/operations.md, "The dashboard's storage").
             "--Aspire:Dashboard:PersistenceMode=None",
             .. ModelRepository is null ? Array.Empty<string>() : [$"--PythonInference:ModelRepository={ModelRepository}"],
             .. ExtraArguments],
            (options, _) => options.DisableDashboard = !WithDashboard,
            timeout.Token);
        var gateway = builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "gateway"));
        if (GatewayTransport is { } transport)
        {
            gateway.WithEnvironment("Inference__Transport", transport);
        }

        foreach (var (name, value) in GatewaySettings)
        {
            gateway.WithEnvironment(name, value);
        }

        // The gateway listens itself on fixed ports (8080/8443, for both address families); a test stack takes
        // free ones instead, so it can run beside a developer's ./run.sh or another test run.
        foreach (var endpoint in new[] { "http", "https" })
        {
            var port = TestHarness.LoopbackPorts.FreeOnBoth();
            gateway.WithEndpoint(endpoint, e => (e.Port, e.TargetPort) = (port, port));
        }

        var worker = builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "worker"));
        foreach (var (name, value) in TestSettings.Worker)
        {
            worker.WithEnvironment(name, value);
        }

        if (InferenceUnreachableWait is { } wait)
        {
            worker.WithEnvironment("Inference__UnreachableWait", wait.ToString("c"));
        }

        var inference = builder.CreateResourceBuilder(builder.Resources.OfType<IResourceWithEndpoints>().Single(r => r.Name == "python-inference"));
        if (InferenceConnectionAge is { } age)
        {
            builder.CreateResourceBuilder((IResourceWithEnvironment)inference.Resource).WithEnvironment(
                "GRPC_MAX_CONNECTION_AGE", age.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (WithGrpcGateway)
        {
            var grpcGateway = builder.AddProject(GrpcGateway, Path.Combine(builder.AppHostDirectory, "..", "Gateway", "Gateway.csproj"))
                .WithHttpHealthCheck("/health", endpointName: "http")
                .WithReference(inference.GetEndpoint("http")).WithReference(inference.GetEndpoint("grpc"))
                .WithReference(worker.GetEndpoint("http"))
                .WithEnvironment("Inference__Transport", "Grpc")
                // A dns:/// address, as the kustomize base gives the gateway: its channel balances over what the name
                // resolves to (here the one python-inference), the client a cluster runs (docs/deployment.md).
                .WithEnvironment("Inference__GrpcAddress", ReferenceExpression.Create(
                    $"dns:///127.0.0.1:{inference.GetEndpoint("grpc").Property(EndpointProperty.Port)}"))
                .WithEnvironment("WorkerAuth__SigningKey", builder.Resources.OfType<ParameterResource>()
                    .Single(p => p.Name == "worker-token-key-gateway"))
                .WaitFor(inference).WaitFor(worker);
            foreach (var (name, value) in GatewaySettings)
            {
                grpcGateway.WithEnvironment(name, value);
            }
        }

        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Warning);
            // Every request the tests send would otherwise be four lines of a failed test's output.
            logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
            // The services' own console output (which the outage tests make noisy on purpose) is shown only
            // when asked for: APPHOST_TESTS_RESOURCE_LOGS=1.
            if (Environment.GetEnvironmentVariable("APPHOST_TESTS_RESOURCE_LOGS") != "1")
            {
                logging.AddFilter(ResourceLogTail.CategoryPrefix, LogLevel.None);
                logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
            }

            // Kept either way, for a resource that does not become healthy (a provider's own rule wins over the above).
            logging.AddProvider(_resourceLogs);
            logging.AddFilter<ResourceLogTail>(ResourceLogTail.CategoryPrefix, LogLevel.Trace);
        });

        _app = await builder.BuildAsync(timeout.Token);
        _watcher = WatchInstancesAsync(_app, _watching.Token);
        await _app.StartAsync(timeout.Token);
        foreach (var resource in Resources.Where(name => WithGrpcGateway || name != GrpcGateway).Concat(ExtraResources))
        {
            try
            {
                await WaitHealthyAsync(resource, timeout.Token);
            }
            catch (OperationCanceledException exception) when (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"{resource} was not healthy within {StartTimeout.TotalMinutes} min of the start. " +
                    $"Its last lines:{Environment.NewLine}{_resourceLogs.LastLines(resource)}", exception);
            }
        }

        // Aspire calls a resource with replicas healthy once one of them is, and the health it shows for a replica is
        // the check through the proxy in front of all of them; the tests count on every Worker replica (they kill each
        // in turn, and read from each), so each one is waited for at its own address.
        foreach (var replica in await ReplicasOfAsync("worker", WorkerReplicas, timeout.Token))
        {
            await WaitServingAsync(replica, timeout.Token);
        }

        Gateway = CreateGatewayClient(Tokens.Create());
        if (WithDashboard)
        {
            Dashboard = new HttpClient { BaseAddress = await DashboardAddressAsync(timeout.Token), Timeout = StepTimeout };
            Dashboard.DefaultRequestHeaders.Add("x-api-key", apiKey);
        }
    }

    // Every instance's latest state, replicas included (each replica is a resource instance of its own).
    private async Task WatchInstancesAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var resourceEvent in app.ResourceNotifications.WatchAsync(cancellationToken))
            {
                _instances[resourceEvent.ResourceId] = resourceEvent;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A client of the gateway's HTTP endpoint sending <paramref name="token"/>, if any.</summary>
    public HttpClient CreateGatewayClient(string? token, string gateway = "gateway")
    {
        var client = App.CreateHttpClient(gateway, "http");
        client.Timeout = StepTimeout;
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>The dashboard's front end: the address of its login link.</summary>
    private async Task<Uri> DashboardAddressAsync(CancellationToken cancellationToken)
    {
        var running = await App.ResourceNotifications.WaitForResourceAsync("aspire-dashboard",
            e => e.Snapshot.Urls.Any(u => u.Url.Contains("/login", StringComparison.Ordinal)), cancellationToken);
        var login = new Uri(running.Snapshot.Urls.First(u => u.Url.Contains("/login", StringComparison.Ordinal)).Url);
        return new Uri(login.GetLeftPart(UriPartial.Authority));
    }

    /// <summary>The last lines the resource (and its replicas) wrote to its console, kept whether or not they are shown.</summary>
    public string LastLinesOf(string resource) => _resourceLogs.LastLines(resource);

    public Task WaitHealthyAsync(string resource, CancellationToken cancellationToken) =>
        App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);

    public async Task StopResourceAsync(string resource, CancellationToken cancellationToken)
    {
        var commands = App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StopCommand, cancellationToken);
        Assert.True(result.Success, $"stopping {resource}: {result.Message}");
        await App.ResourceNotifications.WaitForResourceAsync(resource,
            e => e.Snapshot.State?.Text is "Exited" or "Finished" or "FailedToStart", cancellationToken);
    }

    public async Task StartResourceAsync(string resource, CancellationToken cancellationToken)
    {
        var commands = App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, cancellationToken);
        Assert.True(result.Success, $"starting {resource}: {result.Message}");
        await WaitHealthyAsync(resource, cancellationToken);
    }

    /// <summary>The running instances of a resource with replicas (DCP names such as <c>worker-abcdefgh</c>).</summary>
    public IReadOnlyList<string> ReplicasOf(string resource) =>
        [.. _instances.Values.Where(e => e.Resource.Name == resource).Select(e => e.ResourceId).Order(StringComparer.Ordinal)];

    /// <summary>The instances of <paramref name="resource"/> once there are <paramref name="count"/> of them.</summary>
    private async Task<IReadOnlyList<string>> ReplicasOfAsync(string resource, int count, CancellationToken cancellationToken)
    {
        while (ReplicasOf(resource).Count < count)
        {
            await Task.Delay(50, cancellationToken);
        }

        return ReplicasOf(resource);
    }

    /// <summary>The process id of one resource instance, as DCP reports it.</summary>
    public int ProcessIdOf(string instance) =>
        App.ResourceNotifications.TryGetCurrentState(instance, out var state)
        && state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value is { } pid
            ? Convert.ToInt32(pid, System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"{instance} has no process id.");

    /// <summary>
    /// SIGKILL to the service's own process: no shutdown hook runs, in-flight deliveries are simply abandoned.
    /// DCP starts a project as <c>dotnet run</c>, so the process it reports is the parent of the service; killing
    /// only that parent would leave the service running, orphaned.
    /// </summary>
    public async Task KillInstanceAsync(string instance, CancellationToken cancellationToken)
    {
        var launcher = ProcessIdOf(instance);
        var children = File.ReadAllText($"/proc/{launcher}/task/{launcher}/children")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        Assert.NotEmpty(children);
        foreach (var child in children)
        {
            using var process = System.Diagnostics.Process.GetProcessById(child);
            process.Kill(entireProcessTree: false);
        }

        await WaitForInstanceAsync(instance, IsStopped, "stop after SIGKILL", cancellationToken);
    }

    /// <summary>Aspire's stop command: the service gets SIGTERM and shuts down gracefully.</summary>
    public async Task StopInstanceAsync(string instance, CancellationToken cancellationToken)
    {
        var commands = App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(instance, KnownResourceCommands.StopCommand, cancellationToken);
        Assert.True(result.Success, $"stopping {instance}: {result.Message}");
        await WaitForInstanceAsync(instance, IsStopped, "stop", cancellationToken);
    }

    public async Task StartInstanceAsync(string instance, CancellationToken cancellationToken)
    {
        var commands = App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(instance, KnownResourceCommands.StartCommand, cancellationToken);
        Assert.True(result.Success, $"starting {instance}: {result.Message}");
        await WaitForInstanceAsync(instance, snapshot => snapshot is { State.Text: "Running" }, "run again", cancellationToken);
        await WaitServingAsync(instance, cancellationToken);
    }

    /// <summary>
    /// Waits until the instance itself answers <c>/health</c> on its own port. The health Aspire shows for a replica
    /// is not its own: the check goes to the resource's endpoint, which is the proxy in front of every replica, so a
    /// replica reads healthy a moment after its process starts, while its sibling answers for it.
    /// </summary>
    private async Task WaitServingAsync(string instance, CancellationToken cancellationToken)
    {
        var own = OwnAddressOf(instance);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StepTimeout);
        string last = "no answer yet";
        while (!deadline.IsCancellationRequested)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(own, "/health"), deadline.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                last = $"{(int)response.StatusCode}";
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                last = exception.Message;
            }

            await Task.Delay(100, CancellationToken.None);
        }

        throw new TimeoutException($"{instance} did not answer /health at {own} within {StepTimeout.TotalSeconds} s; last: {last}");
    }

    /// <summary>Starts the instance if an earlier test left it stopped, then waits until it answers /health itself.</summary>
    public async Task EnsureServingAsync(string instance, CancellationToken cancellationToken)
    {
        if (IsStopped(_instances.TryGetValue(instance, out var current) ? current.Snapshot : null))
        {
            await StartInstanceAsync(instance, cancellationToken);
            return;
        }

        await WaitServingAsync(instance, cancellationToken);
    }

    /// <summary>The HTTP address of one replica itself (not Aspire's proxy in front of all of them).</summary>
    public Uri OwnAddressOf(string instance)
    {
        var environment = _instances[instance].Snapshot.EnvironmentVariables.ToDictionary(e => e.Name, e => e.Value);
        var grpcPort = environment.GetValueOrDefault("GRPC_PORT");
        var own = (environment.GetValueOrDefault("ASPNETCORE_URLS") ?? "")
            .Split(';', StringSplitOptions.RemoveEmptyEntries).Select(url => new Uri(url))
            .Where(url => $"{url.Port}" != grpcPort).ToList();
        Assert.True(own.Count > 0, $"{instance} has no HTTP address of its own in ASPNETCORE_URLS");
        return own[0];
    }

    private static bool IsStopped(CustomResourceSnapshot? snapshot) =>
        snapshot?.State?.Text is "Exited" or "Finished" or "FailedToStart" or "Terminated";

    private async Task WaitForInstanceAsync(string instance, Func<CustomResourceSnapshot?, bool> done, string what,
        CancellationToken cancellationToken)
    {
        var seen = new List<string>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StepTimeout);
        while (!deadline.IsCancellationRequested)
        {
            var snapshot = _instances.TryGetValue(instance, out var current) ? current.Snapshot : null;
            var state = $"{snapshot?.State?.Text}/{snapshot?.HealthStatus}";
            if (seen.LastOrDefault() != state)
            {
                seen.Add(state);
            }

            if (done(snapshot))
            {
                return;
            }

            await Task.Delay(50, CancellationToken.None);
        }

        throw new TimeoutException($"{instance} did not {what}; states seen: {string.Join(" → ", seen)}");
    }

    /// <summary>The value of an AppHost parameter, e.g. the generated webhook signing secret.</summary>
    public async Task<string> ParameterValueAsync(string name, CancellationToken cancellationToken) =>
        await App.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ParameterResource>()
            .Single(p => p.Name == name).GetValueAsync(cancellationToken) ?? throw new InvalidOperationException(name);

    /// <summary>
    /// Trains the example model into a new temporary folder with python-inference's own environment, as
    /// <c>cd python-inference &amp;&amp; .venv/bin/python -m examples.train_wine &lt;folder&gt;</c> would (about a second).
    /// </summary>
    private static async Task<string> WriteExampleModelRepositoryAsync(CancellationToken cancellationToken)
    {
        var service = Path.Combine(TestHarness.Checkout.Root, "python-inference");
        var folder = Directory.CreateTempSubdirectory("apphost-tests-models-").FullName;
        using var training = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(
            Path.Combine(service, ".venv", "bin", "python"), ["-m", "examples.train_wine", folder])
        {
            WorkingDirectory = service,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = training.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = training.StandardError.ReadToEndAsync(cancellationToken);
        await training.WaitForExitAsync(cancellationToken);
        if (training.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"examples.train_wine exited {training.ExitCode}: {await output}{await errors}");
        }

        return folder;
    }

    /// <summary>
    /// The stops of the collections' stacks (<see cref="PostgresStackFixture"/>) still under way. xunit disposes a
    /// collection's fixture when the collection ends and the assembly's (this stack on SQLite) after every
    /// collection, one after the other; a stack takes 7–8 s to stop (its broker most of it), so a collection's stack
    /// stops in the background and the assembly's fixture waits for it beside its own stop.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentQueue<Task> CollectionStacksStopping = new();

    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        if (GetType() != typeof(AppHostFixture))
        {
            CollectionStacksStopping.Enqueue(Task.Run(StopStackAsync));
            return;
        }

        try
        {
            await StopStackAsync();
        }
        finally
        {
            await Task.WhenAll(CollectionStacksStopping);
        }
    }

    private async Task StopStackAsync()
    {
        Gateway?.Dispose();
        Dashboard?.Dispose();
        await _watching.CancelAsync();
        if (_watcher is not null)
        {
            await _watcher;
        }

        _watching.Dispose();
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(StepTimeout);
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }

        if (ModelRepository is not null)
        {
            Directory.Delete(ModelRepository, recursive: true);
        }
    }
}
