using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;

namespace Worker.Tests.Defaults;

/// <summary>
/// The two flavours of service defaults: with the standard resilience handler on every HttpClient, or without, so a
/// client's own policy is the only one (the gateway and the Worker use the basic defaults).
/// </summary>
public sealed class ServiceDefaultsTests
{
    private sealed class AlwaysUnavailable : HttpMessageHandler
    {
        public int Attempts;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Attempts);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        }
    }

    private static async Task<int> AttemptsForOneRequestAsync(Action<HostApplicationBuilder> addDefaults)
    {
        var builder = Host.CreateApplicationBuilder();
        addDefaults(builder);
        builder.Services.ConfigureAll<HttpStandardResilienceOptions>(options => options.Retry.Delay = TimeSpan.Zero);
        var upstream = new AlwaysUnavailable();
        builder.Services.AddHttpClient("probe").ConfigurePrimaryHttpMessageHandler(() => upstream);
        using var host = builder.Build();

        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("probe");
        using var response = await client.GetAsync(new Uri("http://probe.test/"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        return upstream.Attempts;
    }

    [Fact]
    public async Task Basic_defaults_leave_a_client_without_retries_of_its_own() =>
        Assert.Equal(1, await AttemptsForOneRequestAsync(builder => builder.AddBasicServiceDefaults()));

    [Fact]
    public async Task Full_defaults_give_every_client_the_standard_retries() =>
        Assert.Equal(4, await AttemptsForOneRequestAsync(builder => builder.AddServiceDefaults()));
}
