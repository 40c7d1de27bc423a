using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>The Worker's operator API as the gateway sees it; every change names its actor for the audit log.</summary>
public interface IAdminClient
{
    Task<Outcome<DeadJobList>> ListDeadJobsAsync(int? limit, CancellationToken cancellationToken);

    /// <summary>Requeues one dead job, or every dead job when <paramref name="jobId"/> is null.</summary>
    Task<Outcome<RequeueReport>> RequeueAsync(Guid? jobId, string actor, CancellationToken cancellationToken);

    Task<Outcome<ConsumptionState>> GetConsumptionAsync(CancellationToken cancellationToken);

    Task<Outcome<ConsumptionState>> SetConsumptionAsync(bool paused, string actor, CancellationToken cancellationToken);
}

/// <summary>The Worker's <c>/v1/admin</c> over HTTP/JSON. Each operation is safe to repeat (a requeued job is no longer dead).</summary>
internal sealed class HttpAdminClient(HttpClient http, ILogger<HttpAdminClient> logger) : IAdminClient
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web);

    public Task<Outcome<DeadJobList>> ListDeadJobsAsync(int? limit, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<DeadJobList>(http,
            new HttpRequestMessage(HttpMethod.Get, limit is { } value ? $"/v1/admin/dead-jobs?limit={value}" : "/v1/admin/dead-jobs"),
            Json, HttpRegistryClient.ServiceName, logger, cancellationToken);

    public Task<Outcome<RequeueReport>> RequeueAsync(Guid? jobId, string actor, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<RequeueReport>(http,
            new HttpRequestMessage(HttpMethod.Post, jobId is { } id ? $"/v1/admin/dead-jobs/{id}/requeue" : "/v1/admin/dead-jobs/requeue")
            {
                Content = JsonContent.Create(new AdminAction(actor), options: Json),
            },
            Json, HttpRegistryClient.ServiceName, logger, cancellationToken);

    public Task<Outcome<ConsumptionState>> GetConsumptionAsync(CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<ConsumptionState>(http, new HttpRequestMessage(HttpMethod.Get, "/v1/admin/consumption"),
            Json, HttpRegistryClient.ServiceName, logger, cancellationToken);

    public Task<Outcome<ConsumptionState>> SetConsumptionAsync(bool paused, string actor, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<ConsumptionState>(http,
            new HttpRequestMessage(HttpMethod.Post, paused ? "/v1/admin/consumption/pause" : "/v1/admin/consumption/resume")
            {
                Content = JsonContent.Create(new AdminAction(actor), options: Json),
            },
            Json, HttpRegistryClient.ServiceName, logger, cancellationToken);
}
