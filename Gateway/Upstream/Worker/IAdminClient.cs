using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>
/// The Worker's operator API as the gateway sees it; every call acts for <c>user</c> (the admin), who travels in the
/// signed token (<see cref="WorkerTokens"/>) and is the actor the Worker audits a change under.
/// </summary>
public interface IAdminClient
{
    Task<Outcome<DeadJobList>> ListDeadJobsAsync(int? limit, string user, CancellationToken cancellationToken);

    /// <summary>Requeues one dead job, or every dead job when <paramref name="jobId"/> is null.</summary>
    Task<Outcome<RequeueReport>> RequeueAsync(Guid? jobId, string user, CancellationToken cancellationToken);

    Task<Outcome<ConsumptionState>> GetConsumptionAsync(string user, CancellationToken cancellationToken);

    Task<Outcome<ConsumptionState>> SetConsumptionAsync(bool paused, string user, CancellationToken cancellationToken);
}

/// <summary>The Worker's <c>/v1/admin</c> over HTTP/JSON. Each operation is safe to repeat (a requeued job is no longer dead).</summary>
internal sealed class HttpAdminClient(HttpClient http, WorkerTokens tokens, ILogger<HttpAdminClient> logger) : IAdminClient
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web);

    public Task<Outcome<DeadJobList>> ListDeadJobsAsync(int? limit, string user, CancellationToken cancellationToken) =>
        SendAsync<DeadJobList>(HttpMethod.Get, limit is { } value ? $"/v1/admin/dead-jobs?limit={value}" : "/v1/admin/dead-jobs",
            user, cancellationToken);

    public Task<Outcome<RequeueReport>> RequeueAsync(Guid? jobId, string user, CancellationToken cancellationToken) =>
        SendAsync<RequeueReport>(HttpMethod.Post, jobId is { } id ? $"/v1/admin/dead-jobs/{id}/requeue" : "/v1/admin/dead-jobs/requeue",
            user, cancellationToken);

    public Task<Outcome<ConsumptionState>> GetConsumptionAsync(string user, CancellationToken cancellationToken) =>
        SendAsync<ConsumptionState>(HttpMethod.Get, "/v1/admin/consumption", user, cancellationToken);

    public Task<Outcome<ConsumptionState>> SetConsumptionAsync(bool paused, string user, CancellationToken cancellationToken) =>
        SendAsync<ConsumptionState>(HttpMethod.Post, paused ? "/v1/admin/consumption/pause" : "/v1/admin/consumption/resume",
            user, cancellationToken);

    // The Worker takes the actor from the token, so a change carries no body.
    private Task<Outcome<T>> SendAsync<T>(HttpMethod method, string path, string user, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<T>(http, tokens.Authorize(new HttpRequestMessage(method, path), user, WorkerScopes.Admin),
            Json, HttpRegistryClient.ServiceName, logger, cancellationToken);
}
