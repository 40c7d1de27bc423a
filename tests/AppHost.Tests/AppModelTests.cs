using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Eventing;
using Aspire.Hosting.Testing;
using AppHost.Messaging;
using AppHost.Operations;
using AppHost.Python;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AppHost.Tests;

/// <summary>What the AppHost declares, checked without starting anything.</summary>
public sealed class AppModelTests
{
    /// <summary>The resources as the AppHost's Program declared them (nothing is built or started).</summary>
    private static async Task<IResourceCollection> BuildModelAsync(params string[] args)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(args,
            TestContext.Current.CancellationToken);
        return builder.Resources;
    }

    private static IResource Resource(IResourceCollection model, string name) =>
        model.Single(r => r.Name == name);

    [Fact]
    public async Task Local_runtime_runs_the_machines_rabbitmq_server_with_a_connection_string()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local");

        var broker = Assert.IsType<LocalRabbitMQServerResource>(Resource(model, "messaging"));
        Assert.EndsWith("rabbitmq-server", broker.Command, StringComparison.Ordinal);
        Assert.Contains("amqp://", broker.ConnectionStringExpression.ValueExpression, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_state_is_kept_under_LocalState_Root_when_it_is_set()
    {
        var root = Directory.CreateTempSubdirectory("local-state-root-").FullName;
        try
        {
            var model = await BuildModelAsync("--Messaging:Runtime=local", $"--LocalState:Root={root}");

            var broker = Assert.IsType<LocalRabbitMQServerResource>(Resource(model, "messaging"));
            Assert.StartsWith(Path.Combine(root, $"aspire-ml-gateway-{Environment.UserName}") + Path.DirectorySeparatorChar,
                broker.StateDirectory, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task External_runtime_takes_the_connection_string_from_configuration()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=external",
            "--ConnectionStrings:messaging=amqp://user:pw@broker.example:5672");

        var broker = Assert.IsAssignableFrom<IResourceWithConnectionString>(Resource(model, "messaging"));
        Assert.IsNotAssignableFrom<ExecutableResource>(broker);
        Assert.IsNotAssignableFrom<ContainerResource>(broker);
        Assert.Equal("amqp://user:pw@broker.example:5672",
            await broker.GetConnectionStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Container_runtime_is_aspires_rabbitmq_container()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=container");

        Assert.IsType<RabbitMQServerResource>(Resource(model, "messaging"));
    }

    [Fact]
    public async Task Publish_mode_always_describes_a_containerised_broker()
    {
        var model = await BuildModelAsync("--operation", "publish", "--Messaging:Runtime=local");

        Assert.IsType<RabbitMQServerResource>(Resource(model, "messaging"));
    }

    [Fact]
    public async Task An_unknown_runtime_fails_with_a_message_naming_the_choices()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => BuildModelAsync("--Messaging:Runtime=kafka"));

        Assert.Contains("container, local or external", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_resource_runs_uvicorn_from_its_venv_and_exports_otlp_json()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local");

        var python = Assert.IsType<UvicornAppResource>(Resource(model, "python-inference"));
        Assert.EndsWith(Path.Combine("python-inference", ".venv", "bin", "python"), python.Command, StringComparison.Ordinal);
        var otlp = Assert.Single(python.Annotations.OfType<OtlpExporterAnnotation>());
        Assert.Equal(OtlpProtocol.HttpJson, otlp.RequiredProtocol);
        var endpoints = python.Annotations.OfType<EndpointAnnotation>().ToDictionary(endpoint => endpoint.Name);
        Assert.Equal(["grpc", "http"], endpoints.Keys.Order());
        Assert.All(endpoints.Values, endpoint => Assert.False(endpoint.IsProxied));
        Assert.Equal("http2", endpoints["grpc"].Transport);
    }

    [Fact]
    public async Task Dependencies_are_wired_both_ways_between_csharp_and_python()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local");

        static IEnumerable<string> WaitsFor(IResource resource) =>
            resource.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name);
        static IEnumerable<string> References(IResource resource) =>
            resource.Annotations.OfType<ResourceRelationshipAnnotation>().Where(r => r.Type == "Reference").Select(r => r.Resource.Name);

        Assert.Superset(new HashSet<string> { "messaging", "python-inference" }, WaitsFor(Resource(model, "worker")).ToHashSet());
        Assert.Superset(new HashSet<string> { "python-inference", "worker" }, WaitsFor(Resource(model, "gateway")).ToHashSet());
        Assert.Contains("worker", References(Resource(model, "python-inference")));
    }

    [Fact]
    public async Task Two_worker_replicas_share_a_webhook_secret_and_python_consumes_events_without_waiting_for_the_broker()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local");

        var worker = Resource(model, "worker");
        Assert.Equal(2, worker.Annotations.OfType<ReplicaAnnotation>().Single().Replicas);
        var secret = Assert.IsType<ParameterResource>(Resource(model, "webhook-signing-secret"));
        Assert.True(secret.Secret);
        var python = Resource(model, "python-inference");
        Assert.Contains("messaging", python.Annotations.OfType<ResourceRelationshipAnnotation>()
            .Where(r => r.Type == "Reference").Select(r => r.Resource.Name));
        Assert.DoesNotContain("messaging", python.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name));
    }

    [Fact]
    public async Task The_gateway_listens_itself_on_8080_and_8443()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local");

        var endpoints = Resource(model, "gateway").Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name);
        Assert.Equal((8080, "http", false), (endpoints["http"].Port, endpoints["http"].UriScheme, endpoints["http"].IsProxied));
        Assert.Equal((8443, "https", false), (endpoints["https"].Port, endpoints["https"].UriScheme, endpoints["https"].IsProxied));
    }

    [Fact]
    public async Task The_unbatched_gateway_is_declared_only_when_a_benchmark_asks_for_it_in_run_mode()
    {
        Assert.DoesNotContain(await BuildModelAsync("--Messaging:Runtime=local"), r => r.Name == UnbatchedGateway.ResourceName);
        Assert.DoesNotContain(await BuildModelAsync("--operation", "publish", "--Messaging:Runtime=local",
            $"--{UnbatchedGateway.PortKey}=18090"), r => r.Name == UnbatchedGateway.ResourceName);

        var model = await BuildModelAsync("--Messaging:Runtime=local", $"--{UnbatchedGateway.PortKey}=18090",
            "--Gateway:InferenceTransport=Http");

        var unbatched = Resource(model, UnbatchedGateway.ResourceName);
        var endpoint = Assert.Single(unbatched.Annotations.OfType<EndpointAnnotation>());
        Assert.Equal(("http", 18090, 18090, false), (endpoint.Name, endpoint.Port, endpoint.TargetPort, endpoint.IsProxied));
        var environment = await EnvironmentAsync(unbatched);
        var gateway = await EnvironmentAsync(Resource(model, "gateway"));
        Assert.Equal("false", environment["Inference__Batching__Enabled"]);
        Assert.DoesNotContain("Inference__Batching__Enabled", gateway.Keys);
        // Everything else the gateway is given, the unbatched one is given too (its upstreams, its key, its transport),
        // but for what names its own endpoint and launch profile.
        string[] own = ["ASPNETCORE_URLS", "ASPNETCORE_HTTPS_PORT", "HTTPS_PORTS", "OTEL_SERVICE_NAME", "DOTNET_LAUNCH_PROFILE"];
        foreach (var name in gateway.Keys.Except(own))
        {
            Assert.True(environment.ContainsKey(name), $"the unbatched gateway lacks {name}");
        }

        Assert.Equal(gateway["WorkerAuth__SigningKey"], environment["WorkerAuth__SigningKey"]);
        Assert.Equal("Http", environment["Inference__Transport"]);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("Http", "Http")]
    [InlineData("Grpc", "Grpc")]
    public async Task The_gateway_gets_the_apphosts_inference_transport_and_the_worker_does_not(string? setting, string? passed)
    {
        string[] args = setting is null ? ["--Messaging:Runtime=local"]
            : ["--Messaging:Runtime=local", $"--Gateway:InferenceTransport={setting}"];
        var model = await BuildModelAsync(args);

        var gateway = await EnvironmentAsync(Resource(model, "gateway"));
        Assert.Equal(passed, gateway.GetValueOrDefault("Inference__Transport")); // unset: the gateway's own default
        Assert.DoesNotContain("Inference__GrpcAddress", gateway.Keys); // dns:/// balancing is the cluster's alone
        Assert.DoesNotContain("Inference__Transport", (await EnvironmentAsync(Resource(model, "worker"))).Keys);
    }

    [Fact]
    public async Task Python_inference_gets_the_model_repository_as_an_absolute_folder_only_when_one_is_configured()
    {
        var folder = Directory.CreateTempSubdirectory("model-repository-");
        try
        {
            var relative = Path.GetRelativePath(Environment.CurrentDirectory, folder.FullName);
            var model = await BuildModelAsync("--Messaging:Runtime=local", $"--{ModelRepositoryExtensions.ConfigurationKey}={relative}");

            var environment = await EnvironmentAsync(Resource(model, "python-inference"));
            Assert.Equal(folder.FullName, environment[ModelRepositoryExtensions.EnvironmentVariable]);
            var without = await EnvironmentAsync(Resource(await BuildModelAsync("--Messaging:Runtime=local"), "python-inference"));
            Assert.DoesNotContain(ModelRepositoryExtensions.EnvironmentVariable, without.Keys);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Python_inference_is_told_which_built_in_models_to_serve_only_when_configured()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local", $"--{ModelRepositoryExtensions.BuiltInModelsKey}=iris");
        Assert.Equal("iris", (await EnvironmentAsync(Resource(model, "python-inference")))[ModelRepositoryExtensions.BuiltInModelsVariable]);

        var without = await EnvironmentAsync(Resource(await BuildModelAsync("--Messaging:Runtime=local"), "python-inference"));
        Assert.DoesNotContain(ModelRepositoryExtensions.BuiltInModelsVariable, without.Keys);
    }

    [Fact]
    public async Task A_model_repository_that_is_not_a_folder_stops_the_apphost_naming_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-models-{Guid.NewGuid():N}");

        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            BuildModelAsync("--Messaging:Runtime=local", $"--{ModelRepositoryExtensions.ConfigurationKey}={missing}"));

        Assert.Contains($"{ModelRepositoryExtensions.ConfigurationKey} is {missing}, which is not a folder", error.ToString(),
            StringComparison.Ordinal);
    }

    /// <summary>The variables a resource's environment callbacks set, as run mode would (values as text, unresolved).</summary>
    private static async Task<Dictionary<string, string>> EnvironmentAsync(IResource resource)
    {
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run),
            resource, cancellationToken: TestContext.Current.CancellationToken);
        foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        return context.EnvironmentVariables.ToDictionary(variable => variable.Key, variable => $"{variable.Value}");
    }

    [Theory]
    [InlineData("python-inference")]
    [InlineData("worker")]
    public async Task Each_grpc_server_is_healthy_only_when_grpc_health_v1_says_serving(string resource)
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local");

        Assert.Contains($"{resource}_grpc_health",
            Resource(model, resource).Annotations.OfType<HealthCheckAnnotation>().Select(h => h.Key));
    }

    /// <summary>
    /// The dashboard's environment as the AppHost gives it: Aspire adds the dashboard's resource only when the
    /// application starts, so a stand-in of that name goes through the same event the real one does. The event is
    /// raised on the builder, without building the application: disposing a built one waited 30 s for the
    /// orchestrator while another stack was starting. The builder is not disposed either, as in
    /// <see cref="BuildModelAsync"/>: disposing lets the AppHost's suspended entry point go on to build, and when that
    /// finished first, Aspire's testing factory waited 30 s for the entry point to exit (in two of the three runs timed
    /// beside the PostgreSQL stack's start, 2026-12-03).
    /// </summary>
    private static async Task<Dictionary<string, string>> DashboardEnvironmentAsync(params string[] args)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(args,
            TestContext.Current.CancellationToken);
        var dashboard = new ExecutableResource(DashboardTelemetryLimits.DashboardResourceName, "dotnet", ".");
        using var services = new ServiceCollection().BuildServiceProvider();
        await builder.Eventing.PublishAsync(new BeforeResourceStartedEvent(dashboard, services), TestContext.Current.CancellationToken);
        return await EnvironmentAsync(dashboard);
    }

    [Fact]
    public async Task The_dashboard_starts_with_bounded_telemetry_limits()
    {
        var environment = await DashboardEnvironmentAsync("--Messaging:Runtime=local");

        Assert.Equal("3600", environment["Dashboard__TelemetryLimits__MaxMetricsCount"]);
        Assert.Equal("10000", environment["Dashboard__TelemetryLimits__MaxTraceCount"]);
        Assert.Equal("10000", environment["Dashboard__TelemetryLimits__MaxLogCount"]);
    }

    [Fact]
    public async Task A_dashboard_limit_in_the_apphosts_configuration_replaces_the_default()
    {
        var environment = await DashboardEnvironmentAsync("--Messaging:Runtime=local",
            "--Dashboard:TelemetryLimits:MaxMetricsCount=50000");

        Assert.Equal("50000", environment["Dashboard__TelemetryLimits__MaxMetricsCount"]);
        Assert.Equal("10000", environment["Dashboard__TelemetryLimits__MaxTraceCount"]);
    }

    [Fact]
    public async Task The_local_postgresql_takes_extra_server_settings_from_configuration()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local", "--Database:Provider=postgres",
            "--Database:Runtime=local", "--Database:Local:Settings:shared_preload_libraries=pg_stat_statements",
            "--Database:Local:Settings:max_connections=400", "--Database:Local:Settings:autovacuum_naptime=1min");

        var text = await ArgumentsOfAsync(model.OfType<AppHost.Database.LocalPostgresServerResource>().Single());
        Assert.Contains("-c shared_preload_libraries=pg_stat_statements", text, StringComparison.Ordinal);
        // The server takes the last of a setting given twice: the configuration's comes after the default.
        Assert.True(text.IndexOf("max_connections=400", StringComparison.Ordinal)
                    > text.IndexOf("max_connections=300", StringComparison.Ordinal), text);
        // The application's own tuning (PostgresTuning) is a default like the others.
        Assert.True(text.IndexOf("-c autovacuum_naptime=1min", StringComparison.Ordinal)
                    > text.IndexOf("-c autovacuum_naptime=5s", StringComparison.Ordinal), text);
    }

    [Fact]
    public async Task The_postgresql_container_runs_with_the_applications_server_settings()
    {
        var model = await BuildModelAsync("--Messaging:Runtime=local", "--Database:Provider=postgres", "--Database:Runtime=container");

        var text = await ArgumentsOfAsync(model.OfType<PostgresServerResource>().Single());

        Assert.Equal("-c autovacuum_naptime=5s", text);
    }

    private static async Task<string> ArgumentsOfAsync(IResource resource)
    {
        var args = new List<object>();
        var context = new CommandLineArgsCallbackContext(args, resource, TestContext.Current.CancellationToken);
        foreach (var callback in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        return string.Join(' ', args.Select(arg => $"{arg}"));
    }

    [Theory]
    [InlineData("shared preload", "x")]
    [InlineData("1st", "x")]
    [InlineData("work_mem", "1MB\n-c fsync=off")]
    public void A_local_postgresql_setting_it_could_not_mean_stops_the_apphost(string name, string value)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new($"Database:Local:Settings:{name}", value)]).Build();

        Assert.Throws<DistributedApplicationException>(() => (object)AppHost.Database.LocalPostgresServerExtensions.ServerSettings(
            configuration.GetSection(AppHost.Database.LocalPostgresServerExtensions.SettingsConfigurationSection)));
    }
}
