using System.Net.Http.Json;
using Gateway.Tests.Hosting;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Tests.Problems;

namespace Gateway.Tests;

public sealed class ModelRegistryApiTests(GatewayFactory factory) : IClassFixture<GatewayFactory>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private FakeRegistryClient Registry => (FakeRegistryClient)factory.Services.GetRequiredService<IRegistryClient>();

    private HttpClient Admin(string subject = "admin-alice") => factory.CreateAuthorizedClient(TestTokens.Create(subject: subject, scopes: "admin"));

    [Fact]
    public async Task Activation_answers_the_now_active_version()
    {
        Registry.Register("reg-sentiment", "1.0.0", "1.1.0");
        using var client = Admin();

        var response = await client.PutAsJsonAsync("/api/v1/models/reg-sentiment/active", new { version = "1.1.0" }, Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var version = await response.Content.ReadFromJsonAsync<JsonElement>(Token);
        Assert.Equal("1.1.0", version.GetProperty("version").GetString());
        Assert.True(version.GetProperty("active").GetBoolean());
        Assert.Equal(new string('a', 64), version.GetProperty("artifactSha256").GetString());
        Assert.Contains(("reg-sentiment", "1.1.0", TestTokens.OwnerOf("admin-alice")), Registry.Activations); // the registry is told who
    }

    [Fact]
    public async Task Activation_needs_the_admin_scope()
    {
        Registry.Register("reg-scoped", "1.0.0", "1.1.0");
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "admin-bob", scopes: "predict jobs"));

        var response = await client.PutAsJsonAsync("/api/v1/models/reg-scoped/active", new { version = "1.1.0" }, Token);

        var problem = await ReadProblemAsync(response, HttpStatusCode.Forbidden, "insufficient_scope");
        Assert.Equal("admin", Assert.Single(problem.GetProperty("requiredScopes").EnumerateArray()).GetString());
        Assert.DoesNotContain(Registry.Activations, a => a.Name == "reg-scoped");
    }

    [Theory]
    [InlineData("reg-unknown-version", "9.9.9", "model_version_not_found")]
    [InlineData("reg-no-such-model", "1.0.0", "model_not_found")]
    public async Task An_unknown_model_or_version_is_the_workers_404_problem(string model, string version, string code)
    {
        Registry.Register("reg-unknown-version", "1.0.0");
        using var client = Admin();

        var response = await client.PutAsJsonAsync($"/api/v1/models/{model}/active", new { version }, Token);

        var problem = await ReadProblemAsync(response, HttpStatusCode.NotFound, code);
        Assert.Equal($"/api/v1/models/{model}/active", problem.GetProperty("instance").GetString());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"version": ""}""")]
    [InlineData("""{"version": null}""")]
    public async Task A_missing_version_is_400_naming_it(string body)
    {
        using var client = Admin();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        var response = await client.PutAsync("/api/v1/models/reg-any/active", content, Token);

        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("version", out _));
        Assert.DoesNotContain(Registry.Activations, a => a.Name == "reg-any");
    }

    [Fact]
    public async Task Versions_are_listed_with_the_active_one_for_the_predict_scope()
    {
        Registry.Register("reg-listed", "1.0.0", "2.0.0");
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "admin-carol", scopes: "predict"));

        var list = await client.GetFromJsonAsync<JsonElement>("/api/v1/models/reg-listed/versions", Token);
        var unknown = await client.GetAsync("/api/v1/models/reg-nothing/versions", Token);

        Assert.Equal("1.0.0", list.GetProperty("activeVersion").GetString());
        Assert.Equal(["1.0.0", "2.0.0"], list.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        await ReadProblemAsync(unknown, HttpStatusCode.NotFound, "model_not_found");
    }

    [Fact]
    public async Task Listing_versions_needs_the_predict_scope()
    {
        using var client = Admin("admin-dave");

        var response = await client.GetAsync("/api/v1/models/reg-listed/versions", Token);

        await ReadProblemAsync(response, HttpStatusCode.Forbidden, "insufficient_scope");
    }
}
