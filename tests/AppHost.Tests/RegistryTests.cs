using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using RegistryV1 = global::Registry.V1;

namespace AppHost.Tests;

/// <summary>
/// The model registry across the stack: a version registered over the Worker's gRPC endpoint (h2c through Aspire's
/// proxy, as python-inference calls it), activated through the gateway with an admin token, announced on the events
/// exchange and recorded by the Worker's audit consumer.
/// </summary>
public class RegistryTests(AppHostFixture stack)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_version_registered_over_grpc_and_activated_through_the_gateway_is_announced_as_model_activated()
    {
        var model = $"e2e-{Guid.NewGuid():N}";
        using var channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("worker", "grpc"));
        var registry = new RegistryV1.ModelRegistry.ModelRegistryClient(channel);
        var python = WorkerTokens.Bearer(await stack.ForPythonAsync()); // registering is python-inference's to do
        foreach (var (version, hash) in new[] { ("1.0.0", 'a'), ("1.1.0", 'b') })
        {
            await registry.RegisterVersionAsync(new RegistryV1.RegisterVersionRequest
            {
                Version = new RegistryV1.ModelVersion
                {
                    Name = model, Version = version, InputKind = "text", Labels = { "negative", "positive" },
                    Metrics = { ["held_out_accuracy"] = 0.8 }, ArtifactSha256 = new string(hash, 64),
                    CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                },
            }, python, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);
        }

        using var admin = stack.CreateGatewayClient(stack.Tokens.Create(subject: "e2e-admin", scopes: "admin"));
        var activated = await admin.PutAsJsonAsync($"/api/v1/models/{model}/active", new { version = "1.1.0" }, Token);
        var listed = await stack.Gateway.GetFromJsonAsync<JsonElement>($"/api/v1/models/{model}/versions", Token);
        var active = await registry.GetActiveVersionAsync(new RegistryV1.GetActiveVersionRequest { Name = model },
            python, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);

        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        Assert.Equal("1.1.0", listed.GetProperty("activeVersion").GetString());
        Assert.Equal("1.1.0", active.Version);
        // The first version's activation, then ours: both reach the audit log through RabbitMQ, each with who made it.
        Assert.Equal([("1.0.0", "python-inference", null), ("1.1.0", "gateway", Tokens.OwnerOf("e2e-admin"))],
            await AnnouncedVersionsAsync(model, expected: 2));
        // The listing shows who activated the served version, and when.
        var served = listed.GetProperty("versions").EnumerateArray().Single(v => v.GetProperty("active").GetBoolean());
        Assert.Equal("gateway", served.GetProperty("activatedBy").GetProperty("service").GetString());
        Assert.Equal(Tokens.OwnerOf("e2e-admin"), served.GetProperty("activatedBy").GetProperty("user").GetString());
        Assert.Equal(JsonValueKind.String, served.GetProperty("activatedAt").ValueKind);
    }

    [Fact]
    public async Task Python_registered_its_versions_over_the_stacks_transport_with_its_token()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(AppHostFixture.StepTimeout);
        var python = await stack.App.ResourceNotifications.WaitForResourceAsync("python-inference",
            e => e.Snapshot.State?.Text == KnownResourceStates.Running, timeout.Token);
        var expected = stack.RegistryTransport == "Http" ? "over HTTP/JSON" : "over gRPC";
        // The built-in versions, and the model repository's where the stack has one (ModelRepositoryTests).
        string[] expectedVersions = ["registered iris 1.0.0", "registered sentiment 1.0.0", "registered sentiment 2.0.0",
            .. stack.ModelRepository is null ? Array.Empty<string>() : ["registered wine 1.0.0"]];

        // python-inference logs each version the Worker accepted, with the transport it used.
        var registered = new HashSet<string>(StringComparer.Ordinal);
        var logs = stack.App.Services.GetRequiredService<ResourceLoggerService>();
        await foreach (var batch in logs.WatchAsync(python.ResourceId).WithCancellation(timeout.Token))
        {
            registered.UnionWith(batch.Select(line => line.Content)
                .Where(content => content.Contains("with the model registry at", StringComparison.Ordinal)
                                  && content.TrimEnd().EndsWith(expected, StringComparison.Ordinal))
                .Select(content => content[content.IndexOf("registered ", StringComparison.Ordinal)..].Split(" (")[0]));
            if (registered.Count == expectedVersions.Length)
            {
                break;
            }
        }

        Assert.Equal(expectedVersions, registered.Order());
        var sentiment = await stack.Gateway.GetFromJsonAsync<JsonElement>("/api/v1/models/sentiment/versions", Token);
        Assert.Equal(["1.0.0", "2.0.0"], sentiment.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("registry.v1.ModelRegistry")]
    public async Task The_workers_grpc_endpoint_answers_the_standard_health_check(string service)
    {
        using var channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("worker", "grpc"));

        var response = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(
            new Grpc.Health.V1.HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);

        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    private async Task<List<(string? Version, string? Service, string? User)>> AnnouncedVersionsAsync(string model, int expected)
    {
        using var worker = await stack.AuditReaderAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(AppHostFixture.StepTimeout);
        while (true)
        {
            var records = await worker.GetFromJsonAsync<JsonElement>("/v1/audit/events?type=model.activated&limit=1000", timeout.Token);
            // In the order the activations happened: the audit log lists events as they were recorded, and on a stack
            // of several replicas two events may be relayed and consumed by different ones, in either order.
            var versions = records.EnumerateArray()
                .Where(r => r.GetProperty("data").GetProperty("model").GetString() == model)
                .OrderBy(r => r.GetProperty("occurredAt").GetDateTimeOffset())
                .Select(r => r.GetProperty("data"))
                .Select(data => (data.GetProperty("version").GetString(),
                    data.GetProperty("activatedBy").GetProperty("service").GetString(),
                    data.GetProperty("activatedBy").TryGetProperty("user", out var user) ? user.GetString() : null))
                .ToList();
            if (versions.Count >= expected)
            {
                return versions;
            }

            await Task.Delay(200, timeout.Token);
        }
    }
}
