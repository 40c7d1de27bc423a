using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using Microsoft.IdentityModel.Tokens;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Security;

/// <summary>
/// Who a caller is: the token's issuer and subject together. Two trusted issuers may give the same subject to
/// different people; their jobs and rate limits stay apart. And tokens are checked with pinned algorithms only.
/// </summary>
public sealed class CallerIdentityTests
{
    private const string OtherIssuer = "https://other-issuer.example";
    private static readonly string OtherKey = Convert.ToBase64String(Encoding.UTF8.GetBytes("the-other-issuers-signing-key-0123456789"));

    private static ConfiguredGatewayFactory TwoIssuers() => new(new Dictionary<string, string?>
    {
        ["Authentication:Schemes:Bearer:ValidIssuers:0"] = OtherIssuer,
        ["Authentication:Schemes:Bearer:SigningKeys:1:Issuer"] = OtherIssuer,
        ["Authentication:Schemes:Bearer:SigningKeys:1:Value"] = OtherKey,
        ["RateLimiting:Policies:predict:TokenLimit"] = "2",
        ["RateLimiting:Policies:predict:TokensPerPeriod"] = "1",
        ["RateLimiting:Policies:predict:ReplenishmentPeriod"] = "00:10:00",
    });

    [Fact]
    public async Task The_same_subject_from_another_issuer_does_not_see_the_jobs()
    {
        await using var factory = TwoIssuers();
        using var ours = factory.CreateAuthorizedClient(TestTokens.Create(subject: "sam"));
        using var theirs = factory.CreateAuthorizedClient(TestTokens.Create(subject: "sam", issuer: OtherIssuer, signingKey: OtherKey));
        var submitted = await ours.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs = new[] { "fine" } },
            TestContext.Current.CancellationToken);
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("id").GetGuid();

        var read = await theirs.GetAsync($"/api/v1/jobs/{id}", TestContext.Current.CancellationToken);
        var list = await theirs.GetFromJsonAsync<JsonElement>("/api/v1/jobs", TestContext.Current.CancellationToken);
        var own = await ours.GetAsync($"/api/v1/jobs/{id}", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        await ReadProblemAsync(read, HttpStatusCode.NotFound, "job_not_found");
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task The_same_subject_from_another_issuer_has_its_own_rate_limit_bucket()
    {
        await using var factory = TwoIssuers();
        using var ours = factory.CreateAuthorizedClient(TestTokens.Create(subject: "tess"));
        using var theirs = factory.CreateAuthorizedClient(TestTokens.Create(subject: "tess", issuer: OtherIssuer, signingKey: OtherKey));
        for (var i = 0; i < 2; i++)
        {
            await ours.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);
        }

        var oursAgain = await ours.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);
        var theirsFirst = await theirs.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.TooManyRequests, oursAgain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, theirsFirst.StatusCode);
    }

    // The test issuer's key replaced by one long enough for HS512, so only the algorithm differs.
    private static readonly string LongKey = Convert.ToBase64String(Encoding.UTF8.GetBytes(new string('k', 64) + "-long-enough-for-hs512"));

    private static ConfiguredGatewayFactory WithLongKey() => new(new Dictionary<string, string?>
    {
        ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = LongKey,
    });

    [Theory]
    [InlineData(SecurityAlgorithms.HmacSha384)]
    [InlineData(SecurityAlgorithms.HmacSha512)]
    public async Task A_token_signed_with_an_algorithm_that_is_not_pinned_is_401_even_with_the_right_key(string algorithm)
    {
        await using var factory = WithLongKey();
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(signingKey: LongKey, algorithm: algorithm));

        var response = await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
    }

    [Fact]
    public async Task The_pinned_algorithm_with_the_same_key_is_accepted()
    {
        await using var factory = WithLongKey();
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(signingKey: LongKey));

        var response = await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
