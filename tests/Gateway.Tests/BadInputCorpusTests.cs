using Gateway.Tests.Hosting;
using Tests.Contracts;

namespace Gateway.Tests;

/// <summary>
/// The gateway's cases of the bad-input corpus (tests/corpus/bad-input.json) against the gateway in process, with
/// fakes upstream: every malformed request is a 4xx problem (or, over JSON-RPC, its error) with a stable code. The
/// cases that need python-inference's own judgement run only against the real stack (AppHost.Tests).
/// </summary>
public sealed class BadInputCorpusTests
{
    [Fact]
    public async Task Every_malformed_request_to_the_gateway_gets_its_4xx_answer()
    {
        await using var factory = new ConfiguredGatewayFactory(new Dictionary<string, string?>());
        using var client = factory.CreateClient();

        var failures = await BadInputCorpus.RunHttpAsync(client, "gateway", inProcess: true,
            (subject, scopes) => TestTokens.Create(subject, scopes), TestContext.Current.CancellationToken);

        Assert.True(failures.Count == 0, $"{failures.Count} case(s) answered otherwise:\n{string.Join('\n', failures)}");
    }
}
