using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ServiceDefaults.Security;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Security;

/// <summary>Every way a bearer token can be wrong gets a 401 problem with a WWW-Authenticate challenge.</summary>
public sealed class AuthenticationTests(GatewayFactory factory) : IClassFixture<GatewayFactory>
{
    private static readonly string OtherKey = Convert.ToBase64String(Encoding.UTF8.GetBytes("some-other-signing-key-0123456789abcdef"));

    private async Task<HttpResponseMessage> PredictWithAsync(string? token)
    {
        using var client = factory.CreateClient();
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await client.GetAsync("/predict?text=great", TestContext.Current.CancellationToken);
    }

    private static async Task AssertRejectedAsync(HttpResponseMessage response, string code)
    {
        await ReadProblemAsync(response, HttpStatusCode.Unauthorized, code);
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_token_with_the_scope_is_accepted()
    {
        var response = await PredictWithAsync(TestTokens.Create());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task The_bearer_handler_remembers_the_tokens_it_validated()
    {
        var options = factory.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);
        Assert.IsType<CachingJsonWebTokenHandler>(Assert.Single(options.TokenHandlers));

        // The same token again (served from memory) is accepted again, and a bad one after it still refused.
        var token = TestTokens.Create();
        Assert.Equal(HttpStatusCode.OK, (await PredictWithAsync(token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PredictWithAsync(token)).StatusCode);
        await AssertRejectedAsync(await PredictWithAsync(token[..^2] + (token[^2] == 'A' ? "BB" : "AA")), "invalid_token");
    }

    [Fact]
    public async Task Predict_without_a_token_returns_401_problem()
    {
        var response = await PredictWithAsync(null);

        await AssertRejectedAsync(response, "authentication_required");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Predict_with_an_unsigned_alg_none_token_returns_401_problem() =>
        await AssertRejectedAsync(await PredictWithAsync(TestTokens.CreateUnsigned()), "invalid_token");

    [Fact]
    public async Task Predict_with_a_bad_signature_returns_401_problem() =>
        await AssertRejectedAsync(await PredictWithAsync(TestTokens.Create(signingKey: OtherKey)), "invalid_token");

    [Fact]
    public async Task Predict_with_a_tampered_payload_returns_401_problem()
    {
        var parts = TestTokens.Create(scopes: "predict").Split('.');
        var forged = TestTokens.Create(scopes: "predict jobs admin", signingKey: OtherKey).Split('.')[1];

        await AssertRejectedAsync(await PredictWithAsync($"{parts[0]}.{forged}.{parts[2]}"), "invalid_token");
    }

    [Fact]
    public async Task Predict_with_an_expired_token_returns_401_problem()
    {
        var response = await PredictWithAsync(TestTokens.Create(
            notBefore: DateTime.UtcNow.AddMinutes(-30), expires: DateTime.UtcNow.AddMinutes(-5)));

        await AssertRejectedAsync(response, "invalid_token");
        Assert.Contains("expired", response.Headers.WwwAuthenticate.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Predict_with_a_not_yet_valid_token_returns_401_problem() =>
        await AssertRejectedAsync(await PredictWithAsync(TestTokens.Create(
            notBefore: DateTime.UtcNow.AddMinutes(5), expires: DateTime.UtcNow.AddMinutes(20))), "invalid_token");

    [Fact]
    public async Task A_token_expired_within_the_clock_skew_is_still_accepted()
    {
        var response = await PredictWithAsync(TestTokens.Create(
            notBefore: DateTime.UtcNow.AddMinutes(-10), expires: DateTime.UtcNow.AddSeconds(-10)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Predict_with_a_wrong_issuer_returns_401_problem() =>
        await AssertRejectedAsync(await PredictWithAsync(TestTokens.Create(issuer: "someone-else")), "invalid_token");

    [Fact]
    public async Task Predict_with_a_wrong_audience_returns_401_problem() =>
        await AssertRejectedAsync(await PredictWithAsync(TestTokens.Create(audience: "another-api")), "invalid_token");

    [Fact]
    public async Task A_token_without_a_subject_returns_401_problem() =>
        await AssertRejectedAsync(await PredictWithAsync(TestTokens.Create(subject: "")), "invalid_token");

    [Fact]
    public async Task A_malformed_token_returns_401_problem() =>
        await AssertRejectedAsync(await PredictWithAsync("not.a.jwt"), "invalid_token");

    [Fact]
    public async Task Predict_without_the_predict_scope_returns_403_problem_naming_it()
    {
        var response = await PredictWithAsync(TestTokens.Create(scopes: "jobs"));

        var problem = await ReadProblemAsync(response, HttpStatusCode.Forbidden, "insufficient_scope");
        Assert.Equal("predict", problem.GetProperty("requiredScopes")[0].GetString());
        Assert.Contains("insufficient_scope", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jobs_without_the_jobs_scope_returns_403_problem()
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(scopes: "predict"));

        var response = await client.GetAsync($"/api/v1/jobs/{Guid.NewGuid()}", TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.Forbidden, "insufficient_scope");
    }

    [Fact]
    public async Task Another_subject_reading_a_job_gets_404()
    {
        using var alice = factory.CreateAuthorizedClient(TestTokens.Create(subject: "alice"));
        using var bob = factory.CreateAuthorizedClient(TestTokens.Create(subject: "bob"));
        var submitted = await alice.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs = new[] { "fine" } },
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);

        var asAlice = await alice.GetAsync(submitted.Headers.Location, TestContext.Current.CancellationToken);
        var asBob = await bob.GetAsync(submitted.Headers.Location, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, asAlice.StatusCode);
        await ReadProblemAsync(asBob, HttpStatusCode.NotFound, "job_not_found");
    }

    [Theory]
    [InlineData("/alive")]
    [InlineData("/health")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/scalar")]
    public async Task Health_and_documentation_are_anonymous(string path)
    {
        using var client = factory.CreateClient();

        var response = await client.GetAsync(path, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
