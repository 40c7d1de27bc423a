using Gateway.Tests.Hosting;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Security;

/// <summary>Outside Development a bearer token over plain HTTP is refused before it is looked at.</summary>
public sealed class HttpsOnlyTokensTests
{
    private static ConfiguredGatewayFactory Production(bool trustForwardedProto = false) => new(
        new Dictionary<string, string?> { ["Auth:TrustForwardedProto"] = trustForwardedProto ? "true" : "false" }, "Production");

    private static HttpClient Client(ConfiguredGatewayFactory factory, string scheme)
    {
        var client = factory.CreateAuthorizedClient();
        client.BaseAddress = new Uri($"{scheme}://localhost");
        return client;
    }

    [Fact]
    public async Task A_token_over_plain_http_is_400_https_required()
    {
        await using var factory = Production();
        using var client = Client(factory, "http");

        var response = await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.BadRequest, "https_required");
    }

    [Fact]
    public async Task A_token_over_https_is_accepted_and_plain_http_without_a_token_still_answers()
    {
        await using var factory = Production();
        using var secure = Client(factory, "https");
        using var plain = factory.CreateClient();

        var overHttps = await secure.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);
        var alive = await plain.GetAsync("/alive", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, overHttps.StatusCode);
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Fact]
    public async Task Behind_a_trusted_tls_proxy_x_forwarded_proto_https_counts_and_is_ignored_otherwise()
    {
        await using var trusting = Production(trustForwardedProto: true);
        await using var untrusting = Production();
        using var viaProxy = Client(trusting, "http");
        using var spoofed = Client(untrusting, "http");
        viaProxy.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        spoofed.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");

        var accepted = await viaProxy.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);
        var refused = await spoofed.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        await ReadProblemAsync(refused, HttpStatusCode.BadRequest, "https_required");
    }
}
