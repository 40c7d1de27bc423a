using System.Net.Http.Headers;
using System.Text;
using Gateway.Tests.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Security;

/// <summary>The forms of scope claims identity providers write, as the gateway reads them.</summary>
public sealed class ScopeClaimFormTests(GatewayFactory factory) : IClassFixture<GatewayFactory>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private Task<HttpResponseMessage> PredictAsync(Dictionary<string, object> scopeClaims)
    {
        var client = factory.CreateAuthorizedClient(EdgeTokens.Create(scopeClaims));
        return client.GetAsync("/predict?text=ok", Token);
    }

    [Fact]
    public async Task A_scope_json_array_as_dotnet_user_jwts_writes_it_grants_each_of_its_scopes()
    {
        // "predict" second: every element counts, not only the first.
        var granted = await PredictAsync(new() { ["scope"] = new[] { "jobs", "predict" } });
        var lacking = await PredictAsync(new() { ["scope"] = new[] { "jobs", "admin" } });

        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        await ReadProblemAsync(lacking, HttpStatusCode.Forbidden, "insufficient_scope");
    }

    [Fact]
    public async Task An_scp_claim_as_entra_id_writes_it_grants_its_scopes()
    {
        var granted = await PredictAsync(new() { ["scp"] = "jobs predict" });
        var lacking = await PredictAsync(new() { ["scp"] = "jobs" });

        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        await ReadProblemAsync(lacking, HttpStatusCode.Forbidden, "insufficient_scope");
    }
}

/// <summary>The gateway as deployed: Production, with no token issuer configured at all.</summary>
public sealed class UnconfiguredProductionFactory : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("WorkerAuth:SigningKey", GatewayFactory.WorkerTokenKey); // the gateway's key for the Worker, always given
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<Gateway.Upstream.Inference.IInferenceClient>();
            services.AddSingleton<Gateway.Upstream.Inference.IInferenceClient, FakeInferenceClient>();
        });
    }
}

public sealed class UnconfiguredProductionTests(UnconfiguredProductionFactory factory) : IClassFixture<UnconfiguredProductionFactory>
{
    public static TheoryData<string, string> Tokens => new()
    {
        // What a developer's machine issues (the Development settings' issuer and audience).
        { "user-jwts", EdgeTokens.Create(new() { ["scope"] = "predict jobs" }, issuer: "dotnet-user-jwts", audience: "http://localhost:8080") },
        { "the tests' issuer", TestTokens.Create() },
        { "unsigned", TestTokens.CreateUnsigned() },
    };

    [Theory]
    [MemberData(nameof(Tokens))]
    public async Task Every_token_is_refused_when_no_issuer_is_configured(string kind, string token)
    {
        // Over HTTPS: outside Development a token over plain HTTP is refused before it is read (HttpsOnlyTokensTests).
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://localhost") });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var response = await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"a {kind} token got {(int)response.StatusCode}");
        await ReadProblemAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
    }
}

/// <summary>The test gateway outside Development, where it sends HSTS.</summary>
public sealed class ProductionGatewayFactory : GatewayFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseEnvironment("Production");
    }
}

/// <summary>The test gateway in Development, where it must not (a browser would remember it for localhost).</summary>
public sealed class DevelopmentGatewayFactory : GatewayFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseEnvironment("Development");
    }
}

public sealed class HstsTests(ProductionGatewayFactory production, DevelopmentGatewayFactory development)
    : IClassFixture<ProductionGatewayFactory>, IClassFixture<DevelopmentGatewayFactory>
{
    // HSTS is sent over HTTPS only, and never to localhost: the requests name a public host over https.
    private static readonly WebApplicationFactoryClientOptions Https = new() { BaseAddress = new Uri("https://gateway.example/") };

    private static async Task<HttpResponseMessage> PredictAsync(GatewayFactory factory)
    {
        using var client = factory.CreateClient(Https);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create());
        return await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Outside_development_https_responses_carry_strict_transport_security()
    {
        var response = await PredictAsync(production);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.TryGetValues("Strict-Transport-Security", out var hsts), "no Strict-Transport-Security header");
        Assert.Matches("^max-age=[1-9][0-9]*", Assert.Single(hsts));
    }

    [Fact]
    public async Task In_development_no_strict_transport_security_is_sent()
    {
        var response = await PredictAsync(development);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Strict-Transport-Security"));
    }
}

/// <summary>A gateway whose JSON-RPC bucket holds two requests and refills once a minute; the others are roomy.</summary>
public sealed class TightRpcLimitFactory : GatewayFactory
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("RateLimiting:Policies:rpc:TokenLimit", "2"),
        new("RateLimiting:Policies:rpc:TokensPerPeriod", "1"),
        new("RateLimiting:Policies:rpc:ReplenishmentPeriod", "00:01:00"),
    ];
}

public sealed class RpcRateLimitTests(TightRpcLimitFactory factory) : IClassFixture<TightRpcLimitFactory>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static Task<HttpResponseMessage> CallAsync(HttpClient client) =>
        client.PostAsync("/rpc", new StringContent("""{"jsonrpc":"2.0","method":"listModels","id":1}""", Encoding.UTF8, "application/json"), Token);

    [Fact]
    public async Task Json_rpc_over_its_limit_is_429_problem_with_retry_after_and_leaves_other_buckets_alone()
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rpc-dave"));
        var allowed = new[] { await CallAsync(client), await CallAsync(client) };

        var refused = await CallAsync(client);

        Assert.All(allowed, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        await ReadProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
        // Its own bucket: the same subject's REST predictions still pass, and another subject's calls too.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/predict?text=ok", Token)).StatusCode);
        using var other = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rpc-erin"));
        Assert.Equal(HttpStatusCode.OK, (await CallAsync(other)).StatusCode);
    }
}

/// <summary>Tokens with scope claims in any form, signed as <see cref="TestTokens"/> signs them.</summary>
internal static class EdgeTokens
{
    public static string Create(Dictionary<string, object> claims, string issuer = TestTokens.Issuer, string audience = TestTokens.Audience)
    {
        var now = DateTime.UtcNow;
        claims["sub"] = "alice";
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            NotBefore = now.AddSeconds(-1),
            Expires = now.AddMinutes(10),
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Convert.FromBase64String(TestTokens.SigningKey)), SecurityAlgorithms.HmacSha256),
        });
    }
}
