using Gateway.Upstream.Inference;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Hosting;

/// <summary>A <see cref="GatewayFactory"/> with its own settings and environment, made for one test.</summary>
public sealed class ConfiguredGatewayFactory(IReadOnlyDictionary<string, string?> settings, string? environment = null)
    : GatewayFactory
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings => settings;

    public FakeInferenceClient Inference => (FakeInferenceClient)Services.GetRequiredService<IInferenceClient>();

    public FakeJobsClient Jobs => (FakeJobsClient)Services.GetRequiredService<IJobsClient>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        if (environment is not null)
        {
            builder.UseEnvironment(environment);
        }
    }
}
