using System.Text.Json;
using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>The Worker's job API; every call acts for the owner, who travels in the signed token (<see cref="WorkerTokens"/>).</summary>
internal sealed class HttpJobsClient(HttpClient http, WorkerTokens tokens, ILogger<HttpJobsClient> logger) : IJobsClient
{
    public const string ServiceName = "worker";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The prefix of the idempotency keys the gateway makes for submissions that came without one.</summary>
    public const string GatewayKeyPrefix = "gateway:";

    /// <summary>
    /// Every submission carries an idempotency key, the client's or one made here, so that a submission retried after
    /// a replica died under it (<see cref="WorkerPool"/>) finds the job that replica may already have stored.
    /// </summary>
    public Task<Outcome<JobView>> SubmitAsync(JobSubmission submission, string owner, string? idempotencyKey,
        CancellationToken cancellationToken)
    {
        idempotencyKey ??= GatewayKeyPrefix + Guid.NewGuid().ToString("N");
        var body = new { submission.Model, submission.Inputs, submission.CallbackUrl, idempotencyKey };
        return UpstreamCalls.SendAsync<JobView>(http, tokens.Authorize(
                new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = JsonContent.Create(body, options: Json) },
                owner, WorkerScopes.Jobs),
            Json, ServiceName, logger, cancellationToken);
    }

    public Task<Outcome<JobView>> GetAsync(Guid id, string owner, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<JobView>(http,
            tokens.Authorize(new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs/{id}"), owner, WorkerScopes.Jobs),
            Json, ServiceName, logger, cancellationToken);

    public Task<Outcome<JobList>> ListAsync(string owner, string? status, int? pageSize, string? pageToken,
        CancellationToken cancellationToken)
    {
        var query = QueryString.Create(new Dictionary<string, string?>
        {
            ["status"] = status,
            ["pageSize"] = pageSize?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["pageToken"] = pageToken,
        }.Where(pair => pair.Value is not null));
        return UpstreamCalls.SendAsync<JobList>(http,
            tokens.Authorize(new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs{query}"), owner, WorkerScopes.Jobs),
            Json, ServiceName, logger, cancellationToken);
    }
}
