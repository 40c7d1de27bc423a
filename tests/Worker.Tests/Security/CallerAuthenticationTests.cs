using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Worker.Jobs;
using Worker.Tests.Registry;
using RegistryV1 = global::Registry.V1;

namespace Worker.Tests.Security;

/// <summary>
/// The real Worker (its configuration of callers and scopes, routes, gRPC service and database; no broker, which none
/// of this needs) asked by callers with good, wrong and missing credentials, over HTTP and over gRPC.
/// </summary>
public sealed class CallerAuthenticationTests(CallerAuthenticationTests.WorkerHost worker)
    : IClassFixture<CallerAuthenticationTests.WorkerHost>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>The Worker as the AppHost runs it locally (every caller's key), or as published (no dashboard key).</summary>
    public class WorkerHost : WebApplicationFactory<Program>
    {
        private readonly string _database = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));

        protected virtual bool WithDashboardKey => true;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            // A broker address nobody listens on: the Worker serves without one, and nothing here publishes.
            builder.UseSetting("ConnectionStrings:messaging", "amqp://guest:guest@127.0.0.1:9");
            builder.UseSetting("Jobs:DatabasePath", Path.Combine(_database, "jobs.db"));
            builder.UseSetting("Webhooks:SigningSecret", "caller-auth-tests-secret-0123456789");
            foreach (var (key, value) in ServiceTokens.WorkerSettings.Where(setting => WithDashboardKey || !setting.Key.Contains(":dashboard:")))
            {
                builder.UseSetting(key, value);
            }
        }

        public HttpClient Http(string? token)
        {
            var client = CreateClient();
            if (token is not null)
            {
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            return client;
        }

        public RegistryV1.ModelRegistry.ModelRegistryClient Grpc(out GrpcChannel channel)
        {
            channel = GrpcChannel.ForAddress(Server.BaseAddress, new GrpcChannelOptions { HttpHandler = Server.CreateHandler() });
            return new RegistryV1.ModelRegistry.ModelRegistryClient(channel);
        }

        public static Metadata Bearer(string? token) => token is null ? [] : [new("authorization", $"Bearer {token}")];

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (disposing && Directory.Exists(_database))
            {
                Directory.Delete(_database, recursive: true);
            }
        }
    }

    private static RegistryV1.RegisterVersionRequest Registration(string name, string version, char hash = 'a') => new()
    {
        Version = new RegistryV1.ModelVersion
        {
            Name = name, Version = version, InputKind = "text", Labels = { "negative", "positive" },
            ArtifactSha256 = new string(hash, 64),
        },
    };

    private static async Task<string?> ProblemCodeAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Token);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        return problem.GetProperty("code").GetString();
    }

    [Theory]
    [InlineData("GET", "/v1/jobs")]
    [InlineData("GET", "/v1/jobs/0190a0a0-0000-7000-8000-000000000001")]
    [InlineData("POST", "/v1/jobs")]
    [InlineData("GET", "/v1/audit/events?type=model.activated")]
    [InlineData("GET", "/v1/audit/jobs/0190a0a0-0000-7000-8000-000000000001")]
    [InlineData("GET", "/v1/webhooks/signing-key")]
    [InlineData("GET", "/v1/registry/models/sentiment/versions")]
    [InlineData("GET", "/v1/registry/models/sentiment/active")]
    [InlineData("POST", "/v1/registry/versions")]
    [InlineData("PUT", "/v1/registry/models/sentiment/active")]
    [InlineData("GET", "/v1/admin/dead-jobs")]
    [InlineData("POST", "/v1/admin/dead-jobs/requeue")]
    [InlineData("POST", "/v1/admin/dead-jobs/0190a0a0-0000-7000-8000-000000000001/requeue")]
    [InlineData("GET", "/v1/admin/consumption")]
    [InlineData("POST", "/v1/admin/consumption/pause")]
    [InlineData("POST", "/v1/admin/consumption/resume")]
    public async Task Every_http_route_without_a_token_is_a_401_problem(string method, string path)
    {
        using var http = worker.Http(token: null);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET")
        {
            request.Content = JsonContent.Create(new { });
        }

        var response = await http.SendAsync(request, Token);

        Assert.Equal("authentication_required", await ProblemCodeAsync(response, HttpStatusCode.Unauthorized));
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public void The_bearer_handler_remembers_the_tokens_it_validated()
    {
        var options = worker.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);

        Assert.IsType<ServiceDefaults.Security.CachingJsonWebTokenHandler>(Assert.Single(options.TokenHandlers));
    }

    [Fact]
    public async Task Health_checks_need_no_token_on_either_protocol()
    {
        using var http = worker.Http(token: null);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive", Token)).StatusCode);

        worker.Grpc(out var channel);
        using var _ = channel;
        var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest(),
            cancellationToken: Token);
        Assert.NotEqual(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Unknown, health.Status);
    }

    [Fact]
    public async Task A_grpc_call_without_a_token_is_unauthenticated_with_the_problem_code()
    {
        var client = worker.Grpc(out var channel);
        using var _ = channel;

        var refused = await Assert.ThrowsAsync<RpcException>(() => client.GetActiveVersionAsync(
            new RegistryV1.GetActiveVersionRequest { Name = "sentiment" }, cancellationToken: Token).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal("authentication_required", refused.Trailers.GetValue("problem-code"));
    }

    [Fact]
    public async Task Python_inference_may_register_and_read_the_active_version_over_both_protocols_and_nothing_else()
    {
        var python = WorkerHost.Bearer(ServiceTokens.Python());
        var client = worker.Grpc(out var channel);
        using var _ = channel;
        using var http = worker.Http(ServiceTokens.Python());

        var registered = await client.RegisterVersionAsync(Registration("py-model", "1.0.0"), python, cancellationToken: Token);
        var overHttp = await http.PostAsJsonAsync("/v1/registry/versions", new
        {
            name = "py-model", version = "1.1.0", inputKind = "text", labels = new[] { "negative", "positive" },
            artifactSha256 = new string('b', 64),
        }, Token);
        var active = await client.GetActiveVersionAsync(new RegistryV1.GetActiveVersionRequest { Name = "py-model" }, python,
            cancellationToken: Token);
        var activeOverHttp = await http.GetAsync("/v1/registry/models/py-model/active", Token);

        Assert.True(registered.Active);
        Assert.Equal(("python-inference", ""), (registered.ActivatedBy.Service, registered.ActivatedBy.User));
        Assert.Equal(HttpStatusCode.Created, overHttp.StatusCode);
        Assert.Equal("1.0.0", active.Version);
        Assert.Equal(HttpStatusCode.OK, activeOverHttp.StatusCode);

        // Not the rest, whatever scopes its token claims: activating, listing, jobs, the audit log, signing keys.
        var greedy = ServiceTokens.Python("registry.register registry.read admin predict jobs");
        using var greedyHttp = worker.Http(greedy);
        var activate = await Assert.ThrowsAsync<RpcException>(() => client.ActivateVersionAsync(
            new RegistryV1.ActivateVersionRequest { Name = "py-model", Version = "1.1.0" }, WorkerHost.Bearer(greedy),
            cancellationToken: Token).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, activate.StatusCode);
        Assert.Equal("insufficient_scope", activate.Trailers.GetValue("problem-code"));
        foreach (var path in new[] { "/v1/jobs", "/v1/audit/events?type=model.activated", "/v1/webhooks/signing-key",
                     "/v1/registry/models/py-model/versions" })
        {
            Assert.Equal("insufficient_scope", await ProblemCodeAsync(await greedyHttp.GetAsync(path, Token), HttpStatusCode.Forbidden));
        }

        var submit = await greedyHttp.PostAsJsonAsync("/v1/jobs", new { model = "sentiment", inputs = new[] { "x" } }, Token);
        Assert.Equal("insufficient_scope", await ProblemCodeAsync(submit, HttpStatusCode.Forbidden));
        var put = await greedyHttp.PutAsJsonAsync("/v1/registry/models/py-model/active", new { version = "1.1.0" }, Token);
        Assert.Equal("insufficient_scope", await ProblemCodeAsync(put, HttpStatusCode.Forbidden));
        Assert.Equal("1.0.0", (await client.GetActiveVersionAsync(new RegistryV1.GetActiveVersionRequest { Name = "py-model" },
            python, cancellationToken: Token)).Version);
    }

    [Fact]
    public async Task The_gateway_may_not_register_and_needs_the_operations_scope()
    {
        var client = worker.Grpc(out var channel);
        using var _ = channel;
        using var predictOnly = worker.Http(ServiceTokens.Gateway("alice", "predict"));

        var register = await Assert.ThrowsAsync<RpcException>(() => client.RegisterVersionAsync(Registration("gw-model", "1.0.0"),
            WorkerHost.Bearer(ServiceTokens.Gateway("alice", "predict jobs admin registry.register")), cancellationToken: Token).ResponseAsync);
        var activate = await predictOnly.PutAsJsonAsync("/v1/registry/models/gw-model/active", new { version = "1.0.0" }, Token);

        Assert.Equal(StatusCode.PermissionDenied, register.StatusCode);
        Assert.Equal("insufficient_scope", await ProblemCodeAsync(activate, HttpStatusCode.Forbidden));
        Assert.Equal("insufficient_scope", await ProblemCodeAsync(await predictOnly.GetAsync("/v1/jobs", Token), HttpStatusCode.Forbidden));
    }

    [Fact]
    public async Task An_activation_records_the_user_the_gateway_acted_for()
    {
        var client = worker.Grpc(out var channel);
        using var _ = channel;
        var python = WorkerHost.Bearer(ServiceTokens.Python());
        await client.RegisterVersionAsync(Registration("who-model", "1.0.0", 'a'), python, cancellationToken: Token);
        await client.RegisterVersionAsync(Registration("who-model", "2.0.0", 'b'), python, cancellationToken: Token);
        using var admin = worker.Http(ServiceTokens.Gateway("admin-alice", "admin"));
        using var reader = worker.Http(ServiceTokens.Gateway("bob", "predict"));

        var activated = await admin.PutAsJsonAsync("/v1/registry/models/who-model/active", new { version = "2.0.0" }, Token);
        var list = await reader.GetFromJsonAsync<JsonElement>("/v1/registry/models/who-model/versions", Token);
        var overGrpc = await client.ListVersionsAsync(new RegistryV1.ListVersionsRequest { Name = "who-model" },
            WorkerHost.Bearer(ServiceTokens.Gateway("bob", "predict")), cancellationToken: Token);

        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        var versions = list.GetProperty("versions").EnumerateArray().ToList();
        Assert.Equal(JsonValueKind.Null, versions[0].GetProperty("activatedBy").ValueKind); // no longer the active one
        var by = versions[1].GetProperty("activatedBy");
        Assert.Equal(("gateway", "admin-alice"), (by.GetProperty("service").GetString(), by.GetProperty("user").GetString()));
        Assert.True(versions[1].TryGetProperty("activatedAt", out var at) && at.ValueKind == JsonValueKind.String);
        Assert.Equal(("gateway", "admin-alice"), (overGrpc.Versions[1].ActivatedBy.Service, overGrpc.Versions[1].ActivatedBy.User));
    }

    [Fact]
    public async Task The_operator_api_needs_the_admin_scope_and_python_inference_never_holds_it()
    {
        using var greedyPython = worker.Http(ServiceTokens.Python("registry.register registry.read admin"));
        using var jobsOnly = worker.Http(ServiceTokens.Gateway("alice", "jobs predict"));

        foreach (var http in new[] { greedyPython, jobsOnly })
        {
            Assert.Equal("insufficient_scope", await ProblemCodeAsync(await http.GetAsync("/v1/admin/consumption", Token), HttpStatusCode.Forbidden));
            Assert.Equal("insufficient_scope", await ProblemCodeAsync(
                await http.PostAsJsonAsync("/v1/admin/consumption/pause", new { }, Token), HttpStatusCode.Forbidden));
            Assert.Equal("insufficient_scope", await ProblemCodeAsync(
                await http.PostAsJsonAsync("/v1/admin/dead-jobs/requeue", new { }, Token), HttpStatusCode.Forbidden));
        }

        Assert.False((await worker.Http(ServiceTokens.Gateway("admin-alice", "admin"))
            .GetFromJsonAsync<JsonElement>("/v1/admin/consumption", Token)).GetProperty("paused").GetBoolean());
    }

    [Fact]
    public async Task The_dashboard_may_operate_and_activate_but_not_touch_jobs_nor_register()
    {
        var client = worker.Grpc(out var channel);
        using var _ = channel;
        var python = WorkerHost.Bearer(ServiceTokens.Python());
        await client.RegisterVersionAsync(Registration("dash-model", "1.0.0", 'a'), python, cancellationToken: Token);
        await client.RegisterVersionAsync(Registration("dash-model", "2.0.0", 'b'), python, cancellationToken: Token);
        using var dashboard = worker.Http(ServiceTokens.Dashboard());
        using var greedy = worker.Http(ServiceTokens.Dashboard("admin jobs predict registry.register registry.read"));

        var consumption = await dashboard.GetAsync("/v1/admin/consumption", Token);
        var activated = await dashboard.PutAsJsonAsync("/v1/registry/models/dash-model/active", new { version = "2.0.0" }, Token);

        Assert.Equal(HttpStatusCode.OK, consumption.StatusCode);
        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        var by = (await activated.Content.ReadFromJsonAsync<JsonElement>(Token)).GetProperty("activatedBy");
        Assert.Equal("dashboard", by.GetProperty("service").GetString());
        foreach (var path in new[] { "/v1/jobs", "/v1/webhooks/signing-key", "/v1/registry/models/dash-model/versions",
                     "/v1/registry/models/dash-model/active" })
        {
            Assert.Equal("insufficient_scope", await ProblemCodeAsync(await greedy.GetAsync(path, Token), HttpStatusCode.Forbidden));
        }

        var register = await Assert.ThrowsAsync<RpcException>(() => client.RegisterVersionAsync(Registration("dash-model", "3.0.0", 'c'),
            WorkerHost.Bearer(ServiceTokens.Dashboard("admin registry.register")), cancellationToken: Token).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, register.StatusCode);
    }

    [Fact]
    public async Task An_operators_change_is_audited_under_the_authenticated_caller_whatever_the_body_names()
    {
        using var admin = worker.Http(ServiceTokens.Gateway("idp:admin-alice", "admin"));
        using var dashboard = worker.Http(ServiceTokens.Dashboard());
        using var auditor = worker.Http(ServiceTokens.Gateway("auditor", "admin"));

        // No broker here: the switch is stored and audited; there is no subscription to cancel.
        var paused = await admin.PostAsJsonAsync("/v1/admin/consumption/pause", new { actor = "somebody-else" }, Token);
        var resumed = await dashboard.PostAsync("/v1/admin/consumption/resume", content: null, Token);

        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        Assert.Equal("idp:admin-alice", (await paused.Content.ReadFromJsonAsync<JsonElement>(Token)).GetProperty("changedBy").GetString());
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        Assert.Equal("dashboard", (await resumed.Content.ReadFromJsonAsync<JsonElement>(Token)).GetProperty("changedBy").GetString());
        foreach (var (type, actor, service) in new[]
                 {
                     ("admin.consumption.paused", "idp:admin-alice", "gateway"), ("admin.consumption.resumed", "dashboard", "dashboard"),
                 })
        {
            var latest = (await auditor.GetFromJsonAsync<JsonElement>($"/v1/audit/events?type={type}", Token)).EnumerateArray().Last();
            var data = latest.GetProperty("data");
            Assert.Equal((actor, service), (data.GetProperty("actor").GetString(), data.GetProperty("service").GetString()));
        }
    }

    private sealed class PublishedWorkerHost : WorkerHost
    {
        protected override bool WithDashboardKey => false;
    }

    [Fact]
    public async Task Without_the_dashboard_key_as_in_kubernetes_the_worker_starts_and_refuses_every_dashboard_token()
    {
        await using var published = new PublishedWorkerHost();
        using var dashboard = published.Http(ServiceTokens.Dashboard());
        using var gateway = published.Http(ServiceTokens.Gateway("admin-alice", "admin"));

        Assert.Equal("invalid_token", await ProblemCodeAsync(await dashboard.GetAsync("/v1/admin/consumption", Token), HttpStatusCode.Unauthorized));
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/v1/admin/consumption", Token)).StatusCode);
    }

    [Fact]
    public void An_optional_caller_without_a_key_is_no_caller_and_a_required_one_without_a_key_stops_the_worker()
    {
        static List<System.ComponentModel.DataAnnotations.ValidationResult> Problems(Worker.Security.CallerOptions caller) =>
        [
            .. new Worker.Security.CallerAuthOptions { Callers = { ["someone"] = caller } }
                .Validate(new System.ComponentModel.DataAnnotations.ValidationContext(new object())),
        ];

        Assert.Empty(Problems(new Worker.Security.CallerOptions { Scopes = ["admin"], Optional = true }));
        Assert.False(new Worker.Security.CallerOptions { Optional = true }.Enabled);
        Assert.Single(Problems(new Worker.Security.CallerOptions { Scopes = ["admin"] }));
        Assert.Single(Problems(new Worker.Security.CallerOptions { Scopes = ["admin"], Optional = true, SigningKey = "too-short" }));
    }

    [Fact]
    public async Task A_token_for_one_user_cannot_read_another_users_jobs()
    {
        var store = worker.Services.GetRequiredService<IJobStore>();
        var job = Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse("""["fine"]"""), DateTimeOffset.UtcNow);
        await store.AddAsync(job, "hash", maxUnfinished: 10, Token);
        using var alice = worker.Http(ServiceTokens.Gateway("alice", "jobs"));
        using var bob = worker.Http(ServiceTokens.Gateway("bob", "jobs"));

        var own = await alice.GetAsync($"/v1/jobs/{job.Id}", Token);
        var others = await bob.GetAsync($"/v1/jobs/{job.Id}", Token);
        var bobsList = await bob.GetFromJsonAsync<JsonElement>("/v1/jobs", Token);
        var aliceList = await alice.GetFromJsonAsync<JsonElement>("/v1/jobs", Token);
        // ?owner= is gone: naming alice in the query changes nothing for bob.
        var probing = await bob.GetFromJsonAsync<JsonElement>("/v1/jobs?owner=alice", Token);

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal("job_not_found", await ProblemCodeAsync(others, HttpStatusCode.NotFound));
        Assert.Equal(0, bobsList.GetProperty("items").GetArrayLength());
        Assert.Contains(aliceList.GetProperty("items").EnumerateArray(), item => item.GetProperty("id").GetGuid() == job.Id);
        Assert.Equal(0, probing.GetProperty("items").GetArrayLength());
    }

    public static TheoryData<string, string> RefusedTokens => new()
    {
        { "expired", ServiceTokens.Create("python-inference", ServiceTokens.PythonKey, "python-inference", "registry.read",
            issuedAt: DateTimeOffset.UtcNow.AddMinutes(-5)) },
        { "HS512 with the right key", ServiceTokens.Create("python-inference", ServiceTokens.PythonKey, "python-inference",
            "registry.read", algorithm: "HS512") },
        { "unsigned (alg none)", ServiceTokens.Unsigned("python-inference", "python-inference", "registry.read") },
        { "python's key claiming to be the gateway", ServiceTokens.Create("gateway", ServiceTokens.PythonKey, "alice", "registry.read") },
        { "an unknown issuer", ServiceTokens.Create("stranger", ServiceTokens.PythonKey, "x", "registry.read") },
        { "another audience", ServiceTokens.Create("python-inference", ServiceTokens.PythonKey, "python-inference", "registry.read",
            audience: "gateway") },
        { "a lifetime past the maximum", ServiceTokens.Create("python-inference", ServiceTokens.PythonKey, "python-inference",
            "registry.read", lifetime: TimeSpan.FromHours(1)) },
        { "no issue time", ServiceTokens.Create("python-inference", ServiceTokens.PythonKey, "python-inference", "registry.read",
            withIssuedAt: false) },
        { "the gateway acting for nobody", ServiceTokens.Create("gateway", ServiceTokens.GatewayKey, null, "predict") },
        { "not a JWT", "not-a-token" },
    };

    [Theory]
    [MemberData(nameof(RefusedTokens))]
    public async Task A_bad_token_is_refused_with_401_invalid_token_on_both_protocols(string what, string token)
    {
        using var http = worker.Http(token);
        var client = worker.Grpc(out var channel);
        using var _ = channel;

        var overHttp = await http.GetAsync("/v1/registry/models/sentiment/active", Token);
        var overGrpc = await Assert.ThrowsAsync<RpcException>(() => client.GetActiveVersionAsync(
            new RegistryV1.GetActiveVersionRequest { Name = "sentiment" }, WorkerHost.Bearer(token), cancellationToken: Token).ResponseAsync);

        Assert.True(overHttp.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {(int)overHttp.StatusCode}");
        Assert.Equal("invalid_token", await ProblemCodeAsync(overHttp, HttpStatusCode.Unauthorized));
        Assert.Equal(StatusCode.Unauthenticated, overGrpc.StatusCode);
        Assert.Equal("invalid_token", overGrpc.Trailers.GetValue("problem-code"));
    }
}
