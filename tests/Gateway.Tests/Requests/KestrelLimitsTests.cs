using System.Net;
using Gateway.Requests;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Gateway.Tests.Hosting;

namespace Gateway.Tests.Requests;

/// <summary>
/// The gateway on real Kestrel (not the test server, which has none of Kestrel's limits): a request over a documented
/// limit gets a problem from the gateway's middleware, because Kestrel's own limits (<see cref="KestrelHardLimits"/>)
/// sit well above; only past those does Kestrel answer bare. These are the sizes docs/security.md lists.
/// </summary>
public sealed class KestrelLimitsTests(KestrelLimitsTests.KestrelGateway gateway) : IClassFixture<KestrelLimitsTests.KestrelGateway>
{
    public sealed class KestrelGateway : GatewayFactory
    {
        public KestrelGateway()
        {
            UseKestrel(0);
            StartServer();
        }
    }

    public static TheoryData<string, int, int, bool> Requests => new()
    {
        // what, request target bytes, header bytes / fields, answered with a problem
        { "target", 10_000, 0, true },
        { "target", 40_000, 0, false },
        { "header bytes", 0, 40_000, true },
        { "header bytes", 0, 70_000, false },
        { "header fields", 0, 150, true },
        { "header fields", 0, 450, false },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Oversized_requests_get_a_problem_up_to_kestrels_own_limits_and_a_bare_status_past_them(
        string what, int targetBytes, int headerSize, bool problem)
    {
        using var client = gateway.CreateAuthorizedClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/predict?text=" + new string('a', targetBytes));
        if (what == "header bytes")
        {
            request.Headers.TryAddWithoutValidation("X-Padding", new string('a', headerSize));
        }
        else if (what == "header fields")
        {
            for (var i = 0; i < headerSize; i++)
            {
                request.Headers.TryAddWithoutValidation($"X-Pad-{i}", "a");
            }
        }

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        var expected = what == "target" ? HttpStatusCode.RequestUriTooLong : HttpStatusCode.RequestHeaderFieldsTooLarge;
        if (problem)
        {
            await Problems.ReadProblemAsync(response, expected, what == "target" ? "uri_too_long" : "headers_too_large");
        }
        else
        {
            Assert.Equal(expected, response.StatusCode);
            Assert.NotEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public void The_listen_backlog_holds_a_burst_of_a_thousand_new_connections()
    {
        // Kestrel's default, 512, overflowed under BatchingTests' thousand callers (the kernel's ListenOverflows grew
        // by 328 in one run, none with this backlog); Linux caps it at net.core.somaxconn, 4096 by default.
        Assert.Equal(KestrelHardLimits.ListenBacklog, gateway.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.Backlog);
        Assert.InRange(KestrelHardLimits.ListenBacklog, 1000, 4096);
    }
}
