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

    /// <summary>Every audit record of one job, whoever owns it, oldest first (none for a job the log has not seen).</summary>
    Task<Outcome<IReadOnlyList<AuditRecord>>> GetJobAuditTrailAsync(Guid jobId, string user, CancellationToken cancellationToken);

    /// <summary>The latest audit records of one event type (at most <paramref name="limit"/>, the Worker's default 100), oldest first.</summary>
    Task<Outcome<IReadOnlyList<AuditRecord>>> ListAuditEventsAsync(string? type, int? limit, string user, CancellationToken cancellationToken);
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

    public Task<Outcome<IReadOnlyList<AuditRecord>>> GetJobAuditTrailAsync(Guid jobId, string user, CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<AuditRecord>>(HttpMethod.Get, $"/v1/audit/jobs/{jobId}", user, cancellationToken);

    public Task<Outcome<IReadOnlyList<AuditRecord>>> ListAuditEventsAsync(string? type, int? limit, string user,
        CancellationToken cancellationToken)
    {
        // The Worker checks both (a type is required, the limit bounded) and answers a 400 problem, passed on as it is.
        var query = new List<string>();
        if (type is not null)
        {
            query.Add($"type={Uri.EscapeDataString(type)}");
        }

        if (limit is { } value)
        {
            query.Add($"limit={value}");
        }

        return SendAsync<IReadOnlyList<AuditRecord>>(HttpMethod.Get,
            query.Count == 0 ? "/v1/audit/events" : $"/v1/audit/events?{string.Join('&', query)}", user, cancellationToken);
    }

    // The Worker takes the actor from the token, so a change carries no body.
    private Task<Outcome<T>> SendAsync<T>(HttpMethod method, string path, string user, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<T>(http, tokens.Authorize(new HttpRequestMessage(method, path), user, WorkerScopes.Admin),
            Json, HttpRegistryClient.ServiceName, logger, cancellationToken);
}
