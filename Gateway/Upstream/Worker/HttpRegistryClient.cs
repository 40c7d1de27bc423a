using System.Text.Json;
using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>
/// The Worker's <c>/v1/registry</c> over HTTP/JSON. A PUT is as safe to retry as a read (<see cref="WorkerPool"/>):
/// an activation sets a state rather than adding to one, so a repeat after a lost answer finds the version active and
/// changes and announces nothing.
/// </summary>
internal sealed class HttpRegistryClient(HttpClient http, WorkerTokens tokens, ILogger<HttpRegistryClient> logger) : IRegistryClient
{
    public const string ServiceName = "worker";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<Outcome<ModelVersionList>> ListVersionsAsync(string name, string user, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<ModelVersionList>(http, tokens.Authorize(
                new HttpRequestMessage(HttpMethod.Get, $"/v1/registry/models/{Uri.EscapeDataString(name)}/versions"),
                user, WorkerScopes.Predict),
            Json, ServiceName, logger, cancellationToken);

    public Task<Outcome<ModelVersionView>> ActivateAsync(string name, string version, string user,
        CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<ModelVersionView>(http, tokens.Authorize(
                new HttpRequestMessage(HttpMethod.Put, $"/v1/registry/models/{Uri.EscapeDataString(name)}/active")
                {
                    Content = JsonContent.Create(new ActivationRequest(version), options: Json),
                },
                user, WorkerScopes.Admin),
            Json, ServiceName, logger, cancellationToken);
}
