using Gateway.Extensions;
using Gateway.Upstream;
using Gateway.Upstream.Inference;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Tests.Upstreams;
using InferenceV1 = global::Inference.V1;

namespace Gateway.Tests.Upstream;

/// <summary>
/// The gateway's gRPC client on a <c>dns:///</c> address, as a Kubernetes publish configures it (python-inference's
/// headless Service): its calls go in turn to every address the name resolves to, not all to one. Built as the
/// gateway builds it (service defaults, then its upstream clients), against stand-in python-inference servers on
/// loopback. No name here resolves to two loopback addresses, so the spreading is shown with the resolver for
/// <c>dns</c> answering two fixed addresses, and the machine's own resolver with <c>localhost</c>.
/// </summary>
public sealed class GrpcBalancingTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Calls_to_a_dns_address_go_in_turn_to_every_address_the_name_resolves_to()
    {
        await using var first = await NamedInferenceServer.StartAsync("first", Token);
        await using var second = await NamedInferenceServer.StartAsync("second", Token);
        using var gateway = Gateway("dns:///python-inference-headless:50051", new FixedDnsAddresses(first.Port, second.Port));
        var client = gateway.Services.GetRequiredKeyedService<IInferenceClient>(UpstreamExtensions.InferenceTransportKey);

        var answeredBy = await Turns.AnsweredByAsync(20, async () =>
        {
            var outcome = await client.ListModelsAsync(Token);
            Assert.Null(outcome.Problem);
            return outcome.Value!.Models.Single().Name;
        });

        Turns.AssertTaken(answeredBy, "first", "second");
    }

    [Fact]
    public async Task When_one_of_the_servers_stops_the_calls_go_to_the_others_and_none_fails()
    {
        await using var staying = await NamedInferenceServer.StartAsync("staying", Token);
        var leaving = await NamedInferenceServer.StartAsync("leaving", Token);
        using var gateway = Gateway("dns:///python-inference-headless:50051", new FixedDnsAddresses(staying.Port, leaving.Port));
        var client = gateway.Services.GetRequiredKeyedService<IInferenceClient>(UpstreamExtensions.InferenceTransportKey);
        for (var call = 0; call < 10; call++)
        {
            Assert.Null((await client.ListModelsAsync(Token)).Problem);
        }

        await leaving.DisposeAsync(); // a pod scaled down: its server closes its connections

        for (var call = 0; call < 10; call++)
        {
            var outcome = await client.ListModelsAsync(Token);
            Assert.Null(outcome.Problem);
            Assert.Equal("staying", outcome.Value!.Models.Single().Name);
        }

        Assert.False(gateway.Services.GetRequiredService<GrpcInferenceDownBreaker>().IsDown);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_refused_connection_is_tried_again_at_once_only_on_a_balanced_channel(bool balanced)
    {
        // What the client reports when the server it picked is gone (seen in the test above, one call in a few hundred,
        // when the pick raced the stopped server's last connection closing).
        var refused = new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call.",
            new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused",
                new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused))));
        var retries = new GrpcRetries(MaxRetries: 2, BaseDelay: TimeSpan.FromSeconds(5), Balanced: balanced);

        Assert.Equal(balanced, retries.ShouldRetry(refused, attempt: 0));
        Assert.Equal(balanced, retries.ShouldRetry(refused, attempt: 1));
        Assert.False(retries.ShouldRetry(refused, attempt: 2)); // every attempt refused: the service is down
        if (balanced)
        {
            Assert.Equal(TimeSpan.Zero, retries.Delay(refused, attempt: 0));
        }
    }

    [Fact]
    public async Task A_dns_address_is_resolved_by_the_machines_resolver()
    {
        await using var server = await NamedInferenceServer.StartAsync("only", Token);
        using var gateway = Gateway($"dns:///localhost:{server.Port}");
        var client = gateway.Services.GetRequiredKeyedService<IInferenceClient>(UpstreamExtensions.InferenceTransportKey);

        var outcome = await client.ListModelsAsync(Token);

        Assert.Null(outcome.Problem);
        Assert.Equal("only", outcome.Value!.Models.Single().Name);
    }

    [Fact]
    public async Task When_no_resolved_address_answers_a_call_is_upstream_unavailable_and_the_down_breaker_opens()
    {
        int port;
        await using (var stopped = await NamedInferenceServer.StartAsync("stopped", Token))
        {
            port = stopped.Port;
        }

        using var gateway = Gateway("dns:///python-inference-headless:50051", new FixedDnsAddresses(port));
        var client = gateway.Services.GetRequiredKeyedService<IInferenceClient>(UpstreamExtensions.InferenceTransportKey);

        var outcome = await client.ListModelsAsync(Token);

        Assert.Equal(503, outcome.Problem?.Status);
        Assert.Equal("upstream_unavailable", outcome.Problem?.Extensions["code"]);
        Assert.True(gateway.Services.GetRequiredService<GrpcInferenceDownBreaker>().IsDown);
    }

    [Fact]
    public async Task When_no_pod_is_ready_and_the_name_does_not_resolve_a_call_is_upstream_unavailable_and_the_down_breaker_opens()
    {
        // A headless Service without a ready pod has no DNS name at all (NXDOMAIN, as the Kubernetes DNS specification
        // has it), which the channel's resolver reports as the machine's resolver does for any unknown name.
        using var gateway = Gateway("dns:///python-inference-headless:50051", new UnresolvableDnsName());
        var client = gateway.Services.GetRequiredKeyedService<IInferenceClient>(UpstreamExtensions.InferenceTransportKey);

        var outcome = await client.ListModelsAsync(Token);

        Assert.Equal(503, outcome.Problem?.Status);
        Assert.Equal("upstream_unavailable", outcome.Problem?.Extensions["code"]);
        Assert.True(gateway.Services.GetRequiredService<GrpcInferenceDownBreaker>().IsDown);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("02:00:00")]
    public async Task A_dns_refresh_interval_out_of_range_stops_the_start(string interval)
    {
        using var gateway = Gateway("dns:///python-inference-headless:50051", refreshInterval: interval);

        // Among the other settings this bare host lacks (the start reports every invalid one together).
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => gateway.StartAsync(Token));

        // Said once: the setting is the process's, whichever of its clients balance.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(refused.Message,
            "'DnsRefreshInterval' with the error: 'The field DnsRefreshInterval must be between"));
    }

    private static IHost Gateway(string grpcAddress, ResolverFactory? dns = null, string? refreshInterval = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:Transport"] = "Grpc",
            ["Inference:GrpcAddress"] = grpcAddress,
        });
        if (refreshInterval is not null)
        {
            builder.Configuration["Grpc:DnsRefreshInterval"] = refreshInterval;
        }

        if (dns is not null)
        {
            builder.Services.AddSingleton(dns); // registered first, so the channel takes it for "dns"
        }

        builder.AddBasicServiceDefaults();
        builder.AddUpstreamClients();
        return builder.Build();
    }
}
