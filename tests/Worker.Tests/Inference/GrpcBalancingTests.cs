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
        using var host = Worker(new FixedDnsAddresses(first.Port, second.Port));
        var client = host.Services.GetRequiredService<InferenceV1.Inference.InferenceClient>();

        var answeredBy = await Turns.AnsweredByAsync(20, async () =>
            (await client.ListModelsAsync(new InferenceV1.ListModelsRequest(), cancellationToken: Token)).Models.Single().Name);

        Turns.AssertTaken(answeredBy, "first", "second");
    }

    [Fact]
    public async Task When_no_pod_is_ready_and_the_name_does_not_resolve_python_inference_is_unreachable_and_jobs_wait()
    {
        // A headless Service without a ready pod has no DNS name (NXDOMAIN): an outage the jobs wait out
        // (OutageWaitingInferenceClient), not an attempt they spend.
        using var host = Worker(new UnresolvableDnsName());
        var client = host.Services.GetRequiredService<GrpcInferenceClient>();

        var outcome = await client.PredictAsync("sentiment", JsonSerializer.SerializeToElement(new[] { "fine" }), Token);

        Assert.True(outcome is InferenceOutcome.Unavailable { Unreachable: true }, $"got {outcome}");
    }

    /// <summary>The Worker's inference client as the Worker builds it, on a <c>dns:///</c> address that <paramref name="dns"/> resolves.</summary>
    private static IHost Worker(ResolverFactory dns)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:Transport"] = "Grpc",
            ["Inference:GrpcAddress"] = "dns:///python-inference-headless:50051",
        });
        builder.Services.AddSingleton(dns); // first: the channel's "dns"
        builder.AddBasicServiceDefaults();
        builder.Services.AddValidatedOptions<InferenceOptions>(InferenceOptions.SectionName);
        builder.AddInferenceClient();
        return builder.Build();
    }
}
