using System.Text.Json;
using Gateway.Upstream;

namespace Gateway.Jobs;

internal sealed class HttpJobsClient(HttpClient http, ILogger<HttpJobsClient> logger) : IJobsClient
{
    public const string ServiceName = "worker";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<UpstreamResult<JobView>> SubmitAsync(JobSubmission submission, string owner, CancellationToken cancellationToken)
    {
        var body = new { owner, submission.Model, submission.Inputs };
        return UpstreamCalls.SendAsync<JobView>(http,
            new HttpRequestMessage(HttpMethod.Post, "/api/jobs") { Content = JsonContent.Create(body, options: Json) },
            Json, ServiceName, logger, cancellationToken);
    }

    public Task<UpstreamResult<JobView>> GetAsync(Guid id, string owner, CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<JobView>(http,
            new HttpRequestMessage(HttpMethod.Get, $"/api/jobs/{id}?owner={Uri.EscapeDataString(owner)}"),
            Json, ServiceName, logger, cancellationToken);
}
