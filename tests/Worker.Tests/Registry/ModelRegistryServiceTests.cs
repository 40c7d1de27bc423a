using System.Net;
using System.Net.Http.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Worker.Events;
using RegistryV1 = global::Registry.V1;

namespace Worker.Tests.Registry;

/// <summary>registry.v1 over a real HTTP/2 cleartext connection, and the same registry over HTTP/JSON.</summary>
public sealed class ModelRegistryServiceTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static RegistryV1.RegisterVersionRequest Registration(string version = "1.0.0", char hash = 'a', string name = "sentiment")
    {
        var message = new RegistryV1.ModelVersion
        {
            Name = name,
            Version = version,
            InputKind = "text",
            Labels = { "negative", "positive" },
            Metrics = { ["held_out_accuracy"] = 0.844 },
            ArtifactSha256 = new string(hash, 64),
            Description = "naive-Bayes weighted logistic regression",
            CreatedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)),
            Active = false,
        };
        return new RegistryV1.RegisterVersionRequest { Version = message };
    }

    [Fact]
    public async Task Register_list_get_active_and_activate_over_grpc()
    {
        await using var host = await RegistryHost.StartAsync();
        var client = host.Client;

        var first = await client.RegisterVersionAsync(Registration("1.0.0", 'a'), cancellationToken: Token);
        var second = await client.RegisterVersionAsync(Registration("1.1.0", 'b'), cancellationToken: Token);
        var activated = await client.ActivateVersionAsync(new RegistryV1.ActivateVersionRequest { Name = "sentiment", Version = "1.1.0" },
            cancellationToken: Token);
        var list = await client.ListVersionsAsync(new RegistryV1.ListVersionsRequest { Name = "sentiment" }, cancellationToken: Token);
        var active = await client.GetActiveVersionAsync(new RegistryV1.GetActiveVersionRequest { Name = "sentiment" }, cancellationToken: Token);

        Assert.True(first.Active);
        Assert.False(second.Active);
        Assert.NotNull(first.RegisteredAt);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), first.CreatedAt.ToDateTimeOffset());
        Assert.True(activated.Active);
        Assert.Equal("1.1.0", activated.Version);
        Assert.Equal(["1.0.0", "1.1.0"], list.Versions.Select(v => v.Version));
        Assert.Equal([false, true], list.Versions.Select(v => v.Active));
        Assert.Equal("1.1.0", active.Version);
        Assert.Equal(["negative", "positive"], active.Labels);
        Assert.Equal(0.844, active.Metrics["held_out_accuracy"]);
        var events = (await host.Database.PendingAsync()).Where(m => m.Type == DomainEvent.ModelActivated).ToList();
        Assert.Equal(2, events.Count); // 1.0.0 as the first version, then 1.1.0
    }

    [Fact]
    public async Task Registration_is_idempotent_and_another_artifact_is_failed_precondition()
    {
        await using var host = await RegistryHost.StartAsync();
        var client = host.Client;
        var first = await client.RegisterVersionAsync(Registration(hash: 'a'), cancellationToken: Token);

        var again = await client.RegisterVersionAsync(Registration(hash: 'a'), cancellationToken: Token);
        var conflict = await Assert.ThrowsAsync<RpcException>(() =>
            client.RegisterVersionAsync(Registration(hash: 'b'), cancellationToken: Token).ResponseAsync);

        Assert.Equal(first.RegisteredAt, again.RegisteredAt);
        Assert.Equal(StatusCode.FailedPrecondition, conflict.StatusCode);
        Assert.Equal("registration_conflict", conflict.Trailers.GetValue("problem-code"));
    }

    [Fact]
    public async Task Unknown_models_and_versions_are_not_found()
    {
        await using var host = await RegistryHost.StartAsync();
        var client = host.Client;
        await client.RegisterVersionAsync(Registration(), cancellationToken: Token);

        var unknownModel = await Assert.ThrowsAsync<RpcException>(() => client.ListVersionsAsync(
            new RegistryV1.ListVersionsRequest { Name = "unicorn" }, cancellationToken: Token).ResponseAsync);
        var noActive = await Assert.ThrowsAsync<RpcException>(() => client.GetActiveVersionAsync(
            new RegistryV1.GetActiveVersionRequest { Name = "unicorn" }, cancellationToken: Token).ResponseAsync);
        var unknownVersion = await Assert.ThrowsAsync<RpcException>(() => client.ActivateVersionAsync(
            new RegistryV1.ActivateVersionRequest { Name = "sentiment", Version = "9.9.9" }, cancellationToken: Token).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, unknownModel.StatusCode);
        Assert.Equal(StatusCode.NotFound, noActive.StatusCode);
        Assert.Equal(StatusCode.NotFound, unknownVersion.StatusCode);
        Assert.Equal("model_version_not_found", unknownVersion.Trailers.GetValue("problem-code"));
    }

    [Fact]
    public async Task Bad_input_is_invalid_argument_naming_each_field()
    {
        await using var host = await RegistryHost.StartAsync();
        var request = Registration();
        request.Version.Name = "";
        request.Version.InputKind = "image";

        var invalid = await Assert.ThrowsAsync<RpcException>(() =>
            host.Client.RegisterVersionAsync(request, cancellationToken: Token).ResponseAsync);
        var emptyVersion = await Assert.ThrowsAsync<RpcException>(() => host.Client.ActivateVersionAsync(
            new RegistryV1.ActivateVersionRequest { Name = "sentiment", Version = "" }, cancellationToken: Token).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, invalid.StatusCode);
        var details = invalid.GetRpcStatus()?.GetDetail<Google.Rpc.BadRequest>();
        Assert.Equal(["version.name", "version.input_kind"], details?.FieldViolations.Select(v => v.Field));
        Assert.Equal(StatusCode.InvalidArgument, emptyVersion.StatusCode);
        Assert.Empty(await host.Database.PendingAsync());
    }

    [Fact]
    public async Task The_grpc_port_speaks_http2_only_and_the_http_port_serves_http1()
    {
        await using var host = await RegistryHost.StartAsync();
        using var http1 = host.CreateHttpClient();
        http1.DefaultRequestVersion = HttpVersion.Version11;
        using var onHttpPort = GrpcChannel.ForAddress(host.HttpAddress);

        var overHttp1 = await http1.GetAsync(new Uri(host.HttpAddress, "/v1/registry/models/unicorn/active"), Token);
        var grpcOnHttpPort = await Assert.ThrowsAsync<RpcException>(() => new RegistryV1.ModelRegistry.ModelRegistryClient(onHttpPort)
            .GetActiveVersionAsync(new RegistryV1.GetActiveVersionRequest { Name = "unicorn" }, cancellationToken: Token).ResponseAsync);
        // Kestrel answers an HTTP/1.x request on an HTTP/2-only endpoint with a bare 400, before routing.
        var http1OnGrpcPort = await http1.GetAsync(new Uri(host.GrpcAddress, "/v1/registry/models/unicorn/active"), Token);

        Assert.Equal(HttpStatusCode.NotFound, overHttp1.StatusCode);
        Assert.Equal(HttpVersion.Version11, overHttp1.Version);
        Assert.NotEqual(StatusCode.NotFound, grpcOnHttpPort.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, http1OnGrpcPort.StatusCode);
        Assert.Contains("HTTP/2", await http1OnGrpcPort.Content.ReadAsStringAsync(Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_http_api_has_the_same_semantics_with_problem_codes()
    {
        await using var host = await RegistryHost.StartAsync();
        using var http = host.CreateHttpClient();
        var body = new
        {
            name = "iris", version = "1.0.0", inputKind = "features", labels = new[] { "setosa", "versicolor", "virginica" },
            metrics = new Dictionary<string, double> { ["held_out_accuracy"] = 0.933 }, artifactSha256 = new string('c', 64),
        };

        var created = await http.PostAsJsonAsync("/v1/registry/versions", body, Token);
        var again = await http.PostAsJsonAsync("/v1/registry/versions", body, Token);
        var conflict = await http.PostAsJsonAsync("/v1/registry/versions", body with { artifactSha256 = new string('d', 64) }, Token);
        var invalid = await http.PostAsJsonAsync("/v1/registry/versions", body with { inputKind = "image" }, Token);
        var unknownVersion = await http.PutAsJsonAsync("/v1/registry/models/iris/active", new { version = "9" }, Token);
        var unknownModel = await http.PutAsJsonAsync("/v1/registry/models/unicorn/active", new { version = "1.0.0" }, Token);
        var missingVersion = await http.PutAsJsonAsync("/v1/registry/models/iris/active", new { }, Token);
        var activated = await http.PutAsJsonAsync("/v1/registry/models/iris/active", new { version = "1.0.0" }, Token);
        var list = await http.GetFromJsonAsync<JsonElement>("/v1/registry/models/iris/versions", Token);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("registration_conflict", await CodeAsync(conflict, HttpStatusCode.Conflict));
        Assert.Equal("validation_failed", await CodeAsync(invalid, HttpStatusCode.BadRequest));
        Assert.Equal("model_version_not_found", await CodeAsync(unknownVersion, HttpStatusCode.NotFound));
        Assert.Equal("model_not_found", await CodeAsync(unknownModel, HttpStatusCode.NotFound));
        Assert.Equal("validation_failed", await CodeAsync(missingVersion, HttpStatusCode.BadRequest));
        var version = await activated.Content.ReadFromJsonAsync<JsonElement>(Token);
        Assert.True(version.GetProperty("active").GetBoolean());
        Assert.Equal("features", version.GetProperty("inputKind").GetString());
        Assert.Equal(new string('c', 64), version.GetProperty("artifactSha256").GetString());
        Assert.Equal("1.0.0", list.GetProperty("activeVersion").GetString());
        Assert.Equal(1, list.GetProperty("versions").GetArrayLength());
        Assert.Single(await host.Database.PendingAsync(), m => m.Type == DomainEvent.ModelActivated);
    }

    [Fact]
    public async Task A_name_that_breaks_the_rules_is_invalid_on_both_faces()
    {
        await using var host = await RegistryHost.StartAsync();
        using var http = host.CreateHttpClient();
        var tooLong = new string('m', 201);

        var overGrpc = await Assert.ThrowsAsync<RpcException>(() => host.Client.ListVersionsAsync(
            new RegistryV1.ListVersionsRequest { Name = tooLong }, cancellationToken: Token).ResponseAsync);
        var overHttp = await http.GetAsync($"/v1/registry/models/{tooLong}/versions", Token);

        Assert.Equal(StatusCode.InvalidArgument, overGrpc.StatusCode);
        Assert.Equal("validation_failed", overGrpc.Trailers.GetValue("problem-code"));
        Assert.Equal(["name"], overGrpc.GetRpcStatus()?.GetDetail<Google.Rpc.BadRequest>()?.FieldViolations.Select(v => v.Field));
        Assert.Equal("validation_failed", await CodeAsync(overHttp, HttpStatusCode.BadRequest));
    }

    private static async Task<string?> CodeAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(Token)).GetProperty("code").GetString();
    }
}
