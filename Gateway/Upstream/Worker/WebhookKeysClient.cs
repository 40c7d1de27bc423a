using System.Text.Json;
using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>An owner's webhook signing key, as the Worker hands it out.</summary>
public sealed record WebhookSigningKey(string Owner, string Key, string Algorithm, string SignatureVersion);

/// <summary>The Worker's webhook API as the gateway sees it.</summary>
public interface IWebhookKeysClient
{
    /// <summary>The key <paramref name="owner"/>'s webhooks are signed with.</summary>
    Task<Outcome<WebhookSigningKey>> GetSigningKeyAsync(string owner, CancellationToken cancellationToken);
}

internal sealed class HttpWebhookKeysClient(HttpClient http, WorkerTokens tokens, ILogger<HttpWebhookKeysClient> logger) : IWebhookKeysClient
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<Outcome<WebhookSigningKey>> GetSigningKeyAsync(string owner, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<WebhookSigningKey>(http,
            tokens.Authorize(new HttpRequestMessage(HttpMethod.Get, "/v1/webhooks/signing-key"), owner, WorkerScopes.Jobs),
            Json, HttpJobsClient.ServiceName, logger, cancellationToken);
}
