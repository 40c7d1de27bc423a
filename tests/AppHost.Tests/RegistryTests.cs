using Aspire.Hosting.Testing;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using RegistryV1 = global::Registry.V1;

namespace AppHost.Tests;

/// <summary>
/// The model registry across the stack: a version registered over the Worker's gRPC endpoint (h2c through Aspire's
/// proxy, as python-inference calls it), activated through the gateway with an admin token, announced on the events
/// exchange and recorded by the Worker's audit consumer.
/// </summary>
public sealed class RegistryTests(AppHostFixture stack)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_version_registered_over_grpc_and_activated_through_the_gateway_is_announced_as_model_activated()
    {
        var model = $"e2e-{Guid.NewGuid():N}";
        using var channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("worker", "grpc"));
        var registry = new RegistryV1.ModelRegistry.ModelRegistryClient(channel);
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
            }, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);
        }

        using var admin = stack.CreateGatewayClient(stack.Tokens.Create(subject: "e2e-admin", scopes: "admin"));
        var activated = await admin.PutAsJsonAsync($"/api/v1/models/{model}/active", new { version = "1.1.0" }, Token);
        var listed = await stack.Gateway.GetFromJsonAsync<JsonElement>($"/api/v1/models/{model}/versions", Token);
        var active = await registry.GetActiveVersionAsync(new RegistryV1.GetActiveVersionRequest { Name = model },
            deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);

        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        Assert.Equal("1.1.0", listed.GetProperty("activeVersion").GetString());
        Assert.Equal("1.1.0", active.Version);
        // The first version's activation, then ours: both reach the audit log through RabbitMQ.
        Assert.Equal(["1.0.0", "1.1.0"], await AnnouncedVersionsAsync(model, expected: 2));
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

    private async Task<List<string?>> AnnouncedVersionsAsync(string model, int expected)
    {
        using var worker = stack.App.CreateHttpClient("worker", "http");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(AppHostFixture.StepTimeout);
        while (true)
        {
            var records = await worker.GetFromJsonAsync<JsonElement>("/v1/audit/events?type=model.activated&limit=1000", timeout.Token);
            var versions = records.EnumerateArray()
                .Where(r => r.GetProperty("data").GetProperty("model").GetString() == model)
                .Select(r => r.GetProperty("data").GetProperty("version").GetString()).ToList();
            if (versions.Count >= expected)
            {
                return versions;
            }

            await Task.Delay(200, timeout.Token);
        }
    }
}
