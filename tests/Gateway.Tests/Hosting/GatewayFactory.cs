using System.Net.Http.Headers;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Gateway.Tests.Hosting;

/// <summary>
/// The real gateway (authentication, rate limits, problem contract, routes) with the test issuer's signing key
/// and in-memory upstreams. Settings can be overridden per factory, e.g. tight rate limits.
/// </summary>
public class GatewayFactory : WebApplicationFactory<Program>
{
    /// <summary>The gateway's key for its tokens to the Worker (whose clients are fakes here).</summary>
    public const string WorkerTokenKey = "gateway-tests-worker-token-key-0123456789";

    protected virtual IEnumerable<KeyValuePair<string, string?>> Settings => [];

    /// <summary>False keeps the real python-inference client (batcher and transport), for a test with a stand-in server.</summary>
    protected virtual bool FakeInference => true;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Authentication:Schemes:Bearer:ValidIssuer", TestTokens.Issuer);
        builder.UseSetting("Authentication:Schemes:Bearer:ValidAudiences:0", TestTokens.Audience);
        builder.UseSetting("Authentication:Schemes:Bearer:SigningKeys:0:Issuer", TestTokens.Issuer);
        builder.UseSetting("Authentication:Schemes:Bearer:SigningKeys:0:Value", TestTokens.SigningKey);
        builder.UseSetting("WorkerAuth:SigningKey", WorkerTokenKey);
        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(services =>
        {
            if (FakeInference)
            {
                services.RemoveAll<IInferenceClient>();
                services.AddSingleton<IInferenceClient, FakeInferenceClient>();
            }

            services.RemoveAll<IJobsClient>();
            services.AddSingleton<IJobsClient, FakeJobsClient>();
            services.RemoveAll<IRegistryClient>();
            services.AddSingleton<IRegistryClient, FakeRegistryClient>();
        });
    }

    /// <summary>A client that sends <paramref name="token"/> (a fresh token for alice with both scopes by default).</summary>
    public HttpClient CreateAuthorizedClient(string? token = null)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? TestTokens.Create());
        return client;
    }
}
