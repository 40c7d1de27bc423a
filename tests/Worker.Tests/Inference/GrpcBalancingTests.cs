using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Worker.Extensions;
using Worker.Inference;
using Tests.Upstreams;
using InferenceV1 = global::Inference.V1;

namespace Worker.Tests.Inference;

/// <summary>
/// The Worker's gRPC client to python-inference on a <c>dns:///</c> address, as a Kubernetes publish configures it:
/// its calls (one per batch of jobs) go in turn to every address the name resolves to, with its channel's retry
/// policy kept. Built as the Worker builds it, against two stand-in servers on loopback; the resolver for <c>dns</c>
/// answers their two addresses (no name here resolves to two loopback addresses).
/// </summary>
public sealed class GrpcBalancingTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Calls_to_a_dns_address_go_in_turn_to_every_address_the_name_resolves_to()
    {
        await using var first = await NamedInferenceServer.StartAsync("first", Token);
        await using var second = await NamedInferenceServer.StartAsync("second", Token);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:Transport"] = "Grpc",
            ["Inference:GrpcAddress"] = "dns:///python-inference-headless:50051",
        });
        builder.Services.AddSingleton<ResolverFactory>(new FixedDnsAddresses(first.Port, second.Port)); // first: the channel's "dns"
        builder.AddBasicServiceDefaults();
        builder.Services.AddValidatedOptions<InferenceOptions>(InferenceOptions.SectionName);
        builder.AddInferenceClient();
        using var host = builder.Build();
        var client = host.Services.GetRequiredService<InferenceV1.Inference.InferenceClient>();

        var answeredBy = await Turns.AnsweredByAsync(20, async () =>
            (await client.ListModelsAsync(new InferenceV1.ListModelsRequest(), cancellationToken: Token)).Models.Single().Name);

        Turns.AssertTaken(answeredBy, "first", "second");
    }
}
