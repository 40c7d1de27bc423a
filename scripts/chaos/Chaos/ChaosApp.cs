using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Chaos.Verdict;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Chaos;

/// <summary>
/// The real AppHost, started in this process as the end-to-end tests start it (Aspire.Hosting.Testing): the machine's
/// RabbitMQ, python-inference, two Worker replicas, the gateway on free loopback ports, the dashboard. Faults go
/// through what an operator has: a signal to a process, and the resource commands the dashboard shows.
/// </summary>
public sealed class ChaosApp : IAsyncDisposable
{
    public const string Issuer = "chaos";
    public const string Audience = "http://localhost:8080";

    /// <summary>The owner whose unfinished jobs are capped low, for the quota scenario.</summary>
    public const string QuotaSubject = "chaos-quota";
    public const int QuotaOfQuotaSubject = 40;

    /// <summary>
    /// Ready messages the jobs queue holds in this run (x-max-length), small enough to fill in seconds. A message carries
    /// the jobs one admission stored together: the burst that fills it (8 submissions at a time) puts a few in each.
    /// </summary>
    public const int JobsQueueMaxLength = 400;

    /// <summary>The quota of the owner that fills the queue: high enough that the queue, not the quota, refuses first.</summary>
    public const int QuotaOfFillSubject = 100_000;

    /// <summary>The gateway's prediction attempt timeout in this run: the slow scenario's 504s come within its window.</summary>
    public static readonly TimeSpan PredictionTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The gateway's overall deadline on any request in this run (<c>RequestLimits:Deadline</c>).</summary>
    public static readonly TimeSpan RequestDeadline = TimeSpan.FromSeconds(6);

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, ResourceEvent> _instances = new();
    private readonly CancellationTokenSource _watching = new();
    private DistributedApplication? _app;
    private Task? _watcher;
    private readonly ConcurrentDictionary<string, Task> _logWriters = new();
    private string? _gatewayWorkerKey;

    /// <summary>
    /// Where the resources' console output goes, one file per instance (a replica; a restarted one's starts appended):
    /// the services' warnings and errors, to read beside a failed check (<see cref="ConsoleLogFilter"/>). Null: not kept.
    /// </summary>
    public string? LogDirectory { get; set; }

    /// <summary>python-inference's injected prediction delay (seconds) for its next start: 0 is none.</summary>
    public double InferenceDelaySeconds { get; set; }

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The AppHost has not started.");

    public Uri Gateway { get; private set; } = null!;

    /// <summary>
    /// Points the dashboard keeps per metric series in this run: a minute's worth, where the AppHost's default keeps an
    /// hour. The soak asks whether anything grows once warmed up; with an hour of points the dashboard's metric store
    /// is still filling (by design, up to its limit) through the whole run, which says nothing about a leak. Full after
    /// a minute, the store is at its limit long before the soak, so the soak sees what remains: the dashboard's own
    /// growth, if any (docs/reliability.md, "The dashboard's memory in the soak").
    /// </summary>
    public const int DashboardMetricPoints = 60;

    /// <summary>
    /// Starts the stack; its state (the broker's data, the databases) under <paramref name="stateRoot"/> when given (the
    /// run's own file system, <c>LocalState:Root</c>), in the temporary folder otherwise. With <paramref name="postgres"/>
    /// the jobs and the analytics counts are in the machine's PostgreSQL, run locally with its data there too.
    /// </summary>
    public async Task StartAsync(TimeSpan timeout, string? stateRoot = null, bool postgres = false)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        string[] arguments = ["--Messaging:Runtime=local", "--ASPIRE_ALLOW_UNSECURED_TRANSPORT=true", "--Worker:Replicas=2",
            $"--Dashboard:TelemetryLimits:MaxMetricsCount={DashboardMetricPoints}",
            // A temporary store for the dashboard, not one of the ten runs kept under ~/.aspire (docs/operations.md).
            "--Aspire:Dashboard:PersistenceMode=None"];
        if (postgres)
        {
            arguments = [.. arguments, "--Database:Provider=postgres", "--Database:Runtime=local"];
        }

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            stateRoot is null ? arguments : [.. arguments, $"--LocalState:Root={stateRoot}"],
            (options, _) => options.DisableDashboard = false, cancellation.Token);

        var gateway = builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "gateway"));
        // CHAOS_GATEWAY_<key> likewise, after the run's own settings (e.g. CHAOS_GATEWAY_Inference__Transport=Grpc).
        foreach (var (name, value) in GatewaySettings().Concat(ChaosOptions.GatewayOverrides(Environment.GetEnvironmentVariables())))
        {
            gateway.WithEnvironment(name, value);
        }

        var port = TestHarness.LoopbackPorts.FreeOnBoth();
        gateway.WithEndpoint("http", e => (e.Port, e.TargetPort) = (port, port));
        var httpsPort = TestHarness.LoopbackPorts.FreeOnBoth();
        gateway.WithEndpoint("https", e => (e.Port, e.TargetPort) = (httpsPort, httpsPort));
        Gateway = new Uri($"http://127.0.0.1:{port}");

        var worker = builder.CreateResourceBuilder(builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "worker"));
        worker.WithEnvironment("Jobs__OwnerQuotas__0__Owner", Issuer + ":" + QuotaSubject)
            .WithEnvironment("Jobs__OwnerQuotas__0__MaxUnfinished", QuotaOfQuotaSubject.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("Jobs__OwnerQuotas__1__Owner", Issuer + ":" + ChaosRun.FillSubject)
            .WithEnvironment("Jobs__OwnerQuotas__1__MaxUnfinished", QuotaOfFillSubject.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("Messaging__JobsQueueMaxLength", JobsQueueMaxLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // For a comparison of one setting of the Worker's, on and off (run.sh's usage): the driver's CHAOS_WORKER_<key>
        // variables, given to the Worker as <key>. The AppHost's own environment does not reach its services here.
        foreach (var (name, value) in ChaosOptions.WorkerOverrides(Environment.GetEnvironmentVariables()))
        {
            worker.WithEnvironment(name, value);
        }

        // The slow scenario's delay is read each time python-inference starts; only a non-Production service takes it.
        var inference = builder.CreateResourceBuilder(builder.Resources.OfType<IResourceWithEnvironment>().Single(r => r.Name == "python-inference"));
        inference.WithEnvironment("ENVIRONMENT", "Development")
            .WithEnvironment(context =>
            {
                if (InferenceDelaySeconds > 0)
                {
                    context.EnvironmentVariables["FAULT_PREDICTION_DELAY"] =
                        InferenceDelaySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
            });

        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Warning);
            logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
            logging.AddFilter("AppHost.Resources", LogLevel.None);
            logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
            logging.AddFilter("Aspire.Hosting.Dcp", LogLevel.Error);
        });

        _app = await builder.BuildAsync(cancellation.Token);
        _watcher = WatchAsync(_app, _watching.Token);
        await _app.StartAsync(cancellation.Token);
        foreach (var resource in new[] { "messaging", "python-inference", "worker", "gateway" })
        {
            await _app.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellation.Token);
        }

        _gatewayWorkerKey = await App.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ParameterResource>()
            .Single(p => p.Name == "worker-token-key-gateway").GetValueAsync(cancellation.Token);
    }

    /// <summary>Everything the gateway needs beyond its defaults: this run's token issuer, and one caller's limits lifted.</summary>
    private IEnumerable<(string Name, string Value)> GatewaySettings()
    {
        yield return ("Authentication__Schemes__Bearer__ValidIssuer", Issuer);
        yield return ("Authentication__Schemes__Bearer__ValidAudiences__0", Audience);
        yield return ("Authentication__Schemes__Bearer__SigningKeys__0__Issuer", Issuer);
        yield return ("Authentication__Schemes__Bearer__SigningKeys__0__Value", Convert.ToBase64String(_key));
        // Each load stream is one subject sending hundreds of requests a second: lift their budgets.
        foreach (var policy in new[] { "predict", "batch", "jobs", "rpc" })
        {
            yield return ($"RateLimiting__Policies__{policy}__TokenLimit", "1000000");
            yield return ($"RateLimiting__Policies__{policy}__TokensPerPeriod", "1000000");
        }

        // Each stream is also one caller standing for many: lift its per-caller slots. The replica's pools per upstream
        // keep their defaults, as in production: they are what keeps a slow python-inference from holding the gateway.
        yield return ("UpstreamLimits__MaxConcurrentCallsPerCaller", "100000");
        yield return ("Inference__AttemptTimeout", PredictionTimeout.ToString("c"));
        yield return ("RequestLimits__Deadline", RequestDeadline.ToString("c"));
    }

    /// <summary>The broker's AMQP address, with this run's credentials.</summary>
    public async Task<string> BrokerConnectionStringAsync(CancellationToken cancellationToken) =>
        await App.GetConnectionStringAsync("messaging", cancellationToken)
        ?? throw new InvalidOperationException("The broker has no connection string.");

    /// <summary>
    /// The broker's queues and memory by use, from its management API (null when it does not answer). Its queue
    /// figures are the statistics it refreshes every 5 s; its memory breakdown is read when asked.
    /// </summary>
    public async Task<BrokerState?> BrokerStateAsync(CancellationToken cancellationToken)
    {
        var amqp = new Uri(await BrokerConnectionStringAsync(cancellationToken));
        var credentials = amqp.UserInfo.Split(':', 2).Select(Uri.UnescapeDataString).ToArray();
        using var client = new HttpClient
        {
            BaseAddress = App.GetEndpoint("messaging", "management"),
            Timeout = TimeSpan.FromSeconds(10),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials[0]}:{credentials[1]}")));
        try
        {
            using var overview = await ReadJsonAsync("api/overview?columns=node");
            var node = overview.RootElement.GetProperty("node").GetString()!;
            using var memory = await ReadJsonAsync($"api/nodes/{Uri.EscapeDataString(node)}/memory");
            using var queues = await ReadJsonAsync(
                "api/queues/%2F?columns=name,messages_ready,messages_unacknowledged,consumers,memory");
            return new BrokerState(DateTimeOffset.UtcNow, BrokerState.ParseQueues(queues.RootElement),
                BrokerState.ParseMemory(memory.RootElement));
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException
                                              or KeyNotFoundException)
        {
            return null; // the report says "not read"
        }

        async Task<JsonDocument> ReadJsonAsync(string path)
        {
            using var response = await client.GetAsync(path, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await JsonDocument.ParseAsync(
                await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        }
    }

    /// <summary>The Worker's SQLite file, or null when it keeps its jobs in PostgreSQL.</summary>
    public async Task<string?> WorkerDatabasePathAsync()
    {
        var worker = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ProjectResource>()
            .Single(r => r.Name == "worker");
        // The environment as the resource is started with it (obsolete in Aspire 13 for ExecutionConfigurationBuilder,
        // which needs far more ceremony for reading one variable).
#pragma warning disable CS0618
        var environment = await worker.GetEnvironmentVariableValuesAsync(DistributedApplicationOperation.Run);
#pragma warning restore CS0618
        return environment.GetValueOrDefault("Jobs__DatabasePath");
    }

    /// <summary>A bearer token of this run's issuer for <paramref name="subject"/>.</summary>
    public string Token(string subject, string scopes = "predict jobs") =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Claims = new Dictionary<string, object> { ["sub"] = subject, ["scope"] = scopes },
            Expires = DateTime.UtcNow.AddHours(3),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(_key), SecurityAlgorithms.HmacSha256),
        });

    /// <summary>A client of the Worker's audit log, as the gateway acting for an admin (a one-minute token each call).</summary>
    public HttpClient AuditClient() => new(new WorkerTokenHandler(_gatewayWorkerKey!) { InnerHandler = new SocketsHttpHandler() })
    {
        BaseAddress = App.GetEndpoint("worker", "http"),
        Timeout = TimeSpan.FromSeconds(30),
    };

    private sealed class WorkerTokenHandler(string key) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = "gateway",
                Audience = "worker",
                Claims = new Dictionary<string, object> { ["sub"] = "chaos-auditor", ["scope"] = "admin" },
                Expires = DateTime.UtcNow.AddMinutes(1),
                SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
            });
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>The instances of a resource (a replica each), by their DCP names.</summary>
    public IReadOnlyList<string> InstancesOf(string resource) =>
        [.. _instances.Values.Where(e => e.Resource.Name == resource).Select(e => e.ResourceId).Order(StringComparer.Ordinal)];

    public CustomResourceSnapshot? Snapshot(string instance) => _instances.TryGetValue(instance, out var e) ? e.Snapshot : null;

    /// <summary>The process DCP started for an instance.</summary>
    public int? LauncherPid(string instance) =>
        Snapshot(instance)?.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value is { } pid
            ? Convert.ToInt32(pid, System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>
    /// The service's own process: DCP starts a project as <c>dotnet run</c> (the service is its child) and RabbitMQ as
    /// a script whose descendant is the Erlang VM; python-inference and the dashboard are the process itself.
    /// </summary>
    public int? ServicePid(string instance)
    {
        if (LauncherPid(instance) is not { } pid)
        {
            return null;
        }

        // Follow only children down to the heaviest descendant: the service, not its launcher or a shell.
        var best = pid;
        var frontier = new Queue<int>([pid]);
        var bestRss = Verdict.ResourceGrowth.Rss(pid);
        while (frontier.TryDequeue(out var next))
        {
            foreach (var child in Children(next))
            {
                var rss = Verdict.ResourceGrowth.Rss(child);
                if (rss > bestRss)
                {
                    (best, bestRss) = (child, rss);
                }

                frontier.Enqueue(child);
            }
        }

        return best;
    }

    private static List<int> Children(int pid)
    {
        try
        {
            return Directory.GetDirectories($"/proc/{pid}/task")
                .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(int.Parse).Distinct().ToList();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>SIGKILL to the service's own process (not its <c>dotnet run</c> launcher): no shutdown code runs.</summary>
    public async Task KillAsync(string instance, CancellationToken cancellationToken)
    {
        var pid = LauncherPid(instance) ?? throw new InvalidOperationException($"{instance} has no process id.");
        // `dotnet run` only launches the service: killing it would leave the service running, orphaned.
        var command = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        var launcher = command.Length > 1 && Path.GetFileName(command[0]) == "dotnet" && command[1] == "run";
        var targets = launcher ? Children(pid) : [pid];
        if (targets.Count == 0)
        {
            throw new InvalidOperationException($"{instance}: `dotnet run` ({pid}) has no service process to kill.");
        }

        foreach (var target in targets)
        {
            using var process = System.Diagnostics.Process.GetProcessById(target);
            process.Kill(entireProcessTree: false);
        }

        await WaitForAsync(instance, IsStopped, cancellationToken);
    }

    /// <summary>A command as the dashboard runs it (start, stop, restart, or one of the AppHost's own).</summary>
    public async Task CommandAsync(string resource, string command, CancellationToken cancellationToken)
    {
        var result = await App.Services.GetRequiredService<ResourceCommandService>()
            .ExecuteCommandAsync(resource, command, cancellationToken);
        if (!result.Success)
        {
            throw new InvalidOperationException($"{command} on {resource}: {result.Message}");
        }
    }

    /// <summary>Brings a stopped instance back with the dashboard's start command and waits until it is running.</summary>
    public async Task StartAsync(string instance, CancellationToken cancellationToken)
    {
        await CommandAsync(instance, KnownResourceCommands.StartCommand, cancellationToken);
        await WaitForAsync(instance, s => s?.State?.Text == KnownResourceStates.Running, cancellationToken);
    }

    public Task WaitHealthyAsync(string resource, CancellationToken cancellationToken) =>
        App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);

    public static bool IsStopped(CustomResourceSnapshot? snapshot) =>
        snapshot?.State?.Text is "Exited" or "Finished" or "FailedToStart" or "Terminated";

    public async Task WaitForAsync(string instance, Func<CustomResourceSnapshot?, bool> done, CancellationToken cancellationToken)
    {
        while (!done(Snapshot(instance)))
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The HTTP address of an instance itself (python-inference's port, one Worker replica's own).</summary>
    public Uri? OwnAddress(string instance)
    {
        var environment = Snapshot(instance)?.EnvironmentVariables.ToDictionary(e => e.Name, e => e.Value) ?? [];
        if (environment.GetValueOrDefault("PORT") is { Length: > 0 } port)
        {
            return new Uri($"http://127.0.0.1:{port}");
        }

        var grpcPort = environment.GetValueOrDefault("GRPC_PORT");
        return (environment.GetValueOrDefault("ASPNETCORE_URLS") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(url => new Uri(url)).FirstOrDefault(url => $"{url.Port}" != grpcPort);
    }

    private async Task WatchAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var resourceEvent in app.ResourceNotifications.WatchAsync(cancellationToken))
            {
                _instances[resourceEvent.ResourceId] = resourceEvent;
                if (LogDirectory is { } directory && !_logWriters.ContainsKey(resourceEvent.ResourceId))
                {
                    Directory.CreateDirectory(directory);
                    _logWriters[resourceEvent.ResourceId] = WriteLogAsync(app, resourceEvent.ResourceId, directory, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Writes the resource's console lines to its file, created with the first line kept: everything but .NET's
    /// <c>info</c>, <c>dbug</c> and <c>trce</c> entries (the gateway logs every request at <c>info</c>, some 40 MB in
    /// a three-minute run) and their continuation lines. Other programs' lines (python-inference, the broker) are kept.
    /// </summary>
    private static async Task WriteLogAsync(DistributedApplication app, string resourceId, string directory, CancellationToken cancellationToken)
    {
        StreamWriter? file = null;
        var keep = true;
        try
        {
            await foreach (var lines in app.Services.GetRequiredService<ResourceLoggerService>().WatchAsync(resourceId)
                               .WithCancellation(cancellationToken))
            {
                foreach (var line in lines)
                {
                    keep = ConsoleLogFilter.Keeps(line.Content, keep);
                    if (keep)
                    {
                        file ??= new StreamWriter(Path.Combine(directory, resourceId + ".log"), append: true) { AutoFlush = true };
                        await file.WriteLineAsync(line.IsErrorMessage ? "stderr: " + line.Content : line.Content);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (file is not null)
            {
                await file.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _watching.CancelAsync();
        if (_watcher is not null)
        {
            await _watcher;
        }

        await Task.WhenAll(_logWriters.Values);

        _watching.Dispose();
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _app.StopAsync(timeout.Token);
            }
            finally
            {
                await _app.DisposeAsync();
            }
        }
    }
}
