using Aspire.Hosting.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using RegistryV1 = global::Registry.V1;

namespace AppHost.Tests;

/// <summary>
/// The real Worker refuses callers it cannot identify or that ask beyond their scopes, over HTTP and gRPC, with the
/// product's problems; the user a job belongs to is the one the gateway's signed token names.
/// </summary>
public sealed class WorkerIdentityTests(AppHostFixture stack)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private RegistryV1.ModelRegistry.ModelRegistryClient Registry(out GrpcChannel channel)
    {
        channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("worker", "grpc"));
        return new RegistryV1.ModelRegistry.ModelRegistryClient(channel);
    }

    [Fact]
    public async Task An_unauthenticated_caller_gets_401_over_http_and_unauthenticated_over_grpc_while_health_stays_open()
    {
        using var anonymous = stack.WorkerClient(token: null);
        var registry = Registry(out var channel);
        using var _ = channel;

        var jobs = await anonymous.GetAsync("/v1/jobs", Token);
        var audit = await anonymous.GetAsync("/v1/audit/events?type=model.activated", Token);
        var overGrpc = await Assert.ThrowsAsync<RpcException>(() => registry.GetActiveVersionAsync(
            new RegistryV1.GetActiveVersionRequest { Name = "sentiment" }, deadline: DateTime.UtcNow.AddSeconds(30),
            cancellationToken: Token).ResponseAsync);
        var health = await anonymous.GetAsync("/health", Token);

        await Problems.AssertProblemAsync(jobs, HttpStatusCode.Unauthorized, "authentication_required");
        await Problems.AssertProblemAsync(audit, HttpStatusCode.Unauthorized, "authentication_required");
        Assert.Equal(StatusCode.Unauthenticated, overGrpc.StatusCode);
        Assert.Equal("authentication_required", overGrpc.Trailers.GetValue("problem-code"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Pythons_token_reads_the_active_version_but_not_jobs_nor_activations()
    {
        var token = await stack.ForPythonAsync("registry.register registry.read jobs admin");
        using var python = stack.WorkerClient(token);
        var registry = Registry(out var channel);
        using var _ = channel;

        var active = await registry.GetActiveVersionAsync(new RegistryV1.GetActiveVersionRequest { Name = "iris" },
            WorkerTokens.Bearer(token), deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);
        var jobs = await python.GetAsync("/v1/jobs", Token);
        var activation = await Assert.ThrowsAsync<RpcException>(() => registry.ActivateVersionAsync(
            new RegistryV1.ActivateVersionRequest { Name = "iris", Version = "1.0.0" }, WorkerTokens.Bearer(token),
            deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token).ResponseAsync);

        Assert.Equal("1.0.0", active.Version);
        await Problems.AssertProblemAsync(jobs, HttpStatusCode.Forbidden, "insufficient_scope");
        Assert.Equal(StatusCode.PermissionDenied, activation.StatusCode);
        Assert.Equal("insufficient_scope", activation.Trailers.GetValue("problem-code"));
    }

    [Fact]
    public async Task A_token_for_one_user_cannot_read_another_users_job()
    {
        var owner = $"alice-{Guid.NewGuid():N}";
        using var gateway = stack.CreateGatewayClient(stack.Tokens.Create(subject: owner));
        var submitted = await gateway.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs = new[] { "fine" } }, Token);
        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>(Token)).GetProperty("id").GetGuid();
        using var alice = stack.WorkerClient(await stack.ForGatewayAsync(Tokens.OwnerOf(owner), "jobs"));
        using var bob = stack.WorkerClient(await stack.ForGatewayAsync($"bob-{Guid.NewGuid():N}", "jobs"));

        var own = await alice.GetAsync($"/v1/jobs/{id}", Token);
        var others = await bob.GetAsync($"/v1/jobs/{id}", Token);
        var probing = await bob.GetFromJsonAsync<JsonElement>($"/v1/jobs?owner={Uri.EscapeDataString(Tokens.OwnerOf(owner))}", Token);

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        await Problems.AssertProblemAsync(others, HttpStatusCode.NotFound, "job_not_found");
        Assert.Equal(0, probing.GetProperty("items").GetArrayLength()); // ?owner= names nobody any more
    }

    [Theory]
    [InlineData("expired")]
    [InlineData("HS512")]
    [InlineData("python's key as the gateway")]
    public async Task A_forged_or_stale_token_is_refused_with_invalid_token(string variant)
    {
        var pythonKey = await stack.ParameterValueAsync("worker-token-key-python-inference", Token);
        var token = variant switch
        {
            "expired" => WorkerTokens.Create("python-inference", pythonKey, "python-inference", WorkerTokens.PythonScopes,
                issuedAt: DateTimeOffset.UtcNow.AddMinutes(-3)),
            "HS512" => WorkerTokens.Create("python-inference", pythonKey, "python-inference", WorkerTokens.PythonScopes,
                algorithm: "HS512"),
            _ => WorkerTokens.Create("gateway", pythonKey, "alice", "jobs"),
        };
        using var http = stack.WorkerClient(token);
        var registry = Registry(out var channel);
        using var _ = channel;

        var overHttp = await http.GetAsync("/v1/registry/models/iris/active", Token);
        var overGrpc = await Assert.ThrowsAsync<RpcException>(() => registry.GetActiveVersionAsync(
            new RegistryV1.GetActiveVersionRequest { Name = "iris" }, WorkerTokens.Bearer(token),
            deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token).ResponseAsync);

        await Problems.AssertProblemAsync(overHttp, HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Equal(StatusCode.Unauthenticated, overGrpc.StatusCode);
        Assert.Equal("invalid_token", overGrpc.Trailers.GetValue("problem-code"));
    }
}
