namespace AppHost;

public static class WebhookSettings
{
    public const string AllowedNetworksKey = "Webhooks:AllowedNetworks";
    public const string AllowedPortsKey = "Webhooks:AllowedPorts";

    /// <summary>
    /// The Worker signs webhooks with a secret made for this deployment (an Aspire secret parameter: generated and
    /// kept in the AppHost's user secrets locally, a secret in the published manifests). Callback URLs on private,
    /// loopback or link-local networks are refused unless the AppHost's <c>Webhooks:AllowedNetworks</c> lists them, and ports
    /// other than <c>Webhooks:AllowedPorts</c> (80, 443) outside those networks.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithWebhooks(
        this IResourceBuilder<ProjectResource> worker, IDistributedApplicationBuilder builder)
    {
        var secret = builder.AddParameter("webhook-signing-secret",
            new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true);
        worker.WithEnvironment("Webhooks__SigningSecret", secret);
        var allowed = builder.Configuration.GetSection(AllowedNetworksKey).GetChildren()
            .Select(network => network.Value).OfType<string>().ToList();
        for (var i = 0; i < allowed.Count; i++)
        {
            worker.WithEnvironment($"Webhooks__AllowedNetworks__{i}", allowed[i]);
        }

        // The ports callback URLs may use (80 and 443 unless the AppHost's Webhooks:AllowedPorts says otherwise).
        var ports = builder.Configuration.GetSection(AllowedPortsKey).GetChildren()
            .Select(port => port.Value).OfType<string>().ToList();
        for (var i = 0; i < ports.Count; i++)
        {
            worker.WithEnvironment($"Webhooks__AllowedPorts__{i}", ports[i]);
        }

        return worker;
    }
}
