using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

/// <summary>The webhook component as the Worker registers it (service defaults first), with fast test settings.</summary>
internal static class WebhookHost
{
    /// <summary>
    /// Long enough that no attempt times out on a loaded machine unless a test means it to: the tests count the
    /// requests a receiver sees.
    /// </summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);

    public static IHost Build(IDictionary<string, string?>? settings = null, Action<IHostApplicationBuilder>? configure = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Webhooks:SigningSecret"] = WebhookReceiver.Secret,
            ["Webhooks:AllowedNetworks:0"] = "127.0.0.0/8",
            ["Webhooks:AllowedNetworks:1"] = "::1/128",
            ["Webhooks:Timeout"] = AttemptTimeout.ToString("c"),
            ["Webhooks:BaseDelay"] = "00:00:00.010",
            ["Webhooks:MaxDelay"] = "00:00:00.050",
            ["Webhooks:MaxAttempts"] = "4",
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.AddBasicServiceDefaults();
        builder.AddWebhooks();
        configure?.Invoke(builder);
        return builder.Build();
    }
}
