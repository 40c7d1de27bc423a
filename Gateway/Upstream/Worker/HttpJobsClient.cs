using System.Diagnostics;
using System.Text.Json;
using Gateway.Application;
using Gateway.Upstream.Inference.Batching;

namespace Gateway.Upstream.Worker;

/// <summary>The Worker's job API; every call acts for the owner, who travels in the signed token (<see cref="WorkerTokens"/>).</summary>
internal sealed class HttpJobsClient(
    HttpClient http, WorkerTokens tokens, JobSubmissionCoalescer coalescer, ILogger<HttpJobsClient> logger)
    : IJobsClient, IJobSubmissionSender
{
    public const string ServiceName = "worker";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The prefix of the idempotency keys the gateway makes for submissions that came without one.</summary>
    public const string GatewayKeyPrefix = "gateway:";

    /// <summary>
    /// Every submission carries an idempotency key, the client's or one made here, so that a submission retried after
    /// a replica died under it (<see cref="WorkerPool"/>) finds the job that replica may already have stored.
    /// Concurrent submissions of one owner share calls (<see cref="JobSubmissionCoalescer"/>).
    /// </summary>
    public Task<Outcome<JobView>> SubmitAsync(JobSubmission submission, string owner, string? idempotencyKey,
        CancellationToken cancellationToken) =>
        coalescer.SubmitAsync(this,
            new JobSubmissionRequest(submission, idempotencyKey ?? GatewayKeyPrefix + Guid.NewGuid().ToString("N"),
                Activity.Current?.Context ?? default),
            owner, cancellationToken);

    public Task<Outcome<JobView>> SendAsync(JobSubmissionRequest request, string owner, CancellationToken cancellationToken)
    {
        var submission = request.Submission;
        var body = new { submission.Model, submission.Inputs, submission.CallbackUrl, request.IdempotencyKey };
        return UpstreamCalls.SendAsync<JobView>(http, tokens.Authorize(
                new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = JsonContent.Create(body, options: Json) },
                owner, WorkerScopes.Jobs),
            Json, ServiceName, logger, cancellationToken);
    }

    /// <summary>
    /// One call for several submissions (<c>POST /v1/jobs/batch</c>): each gets the answer the Worker gave it, passed
    /// on as <see cref="UpstreamCalls"/> passes on a single answer, or every one the call's own failure.
    /// </summary>
    public async Task<IReadOnlyList<Outcome<JobView>>> SendManyAsync(IReadOnlyList<JobSubmissionRequest> requests, string owner,
        CancellationToken cancellationToken)
    {
        var body = new
        {
            Jobs = requests.Select(request => new
            {
                request.Submission.Model,
                request.Submission.Inputs,
                request.Submission.CallbackUrl,
                request.IdempotencyKey,
                TraceParent = BatchTracing.TraceParentOf(request.Trace),
            }),
        };
        var outcome = await UpstreamCalls.SendAsync<JobBatchAnswer>(http, tokens.Authorize(
                new HttpRequestMessage(HttpMethod.Post, "/v1/jobs/batch") { Content = JsonContent.Create(body, options: Json) },
                owner, WorkerScopes.Jobs),
            Json, ServiceName, logger, cancellationToken);
        if (outcome.Problem is { } problem)
        {
            return [.. requests.Select(_ => Outcome.Failure<JobView>(BatchFailures.CopyOf(problem)))];
        }

        var results = outcome.Value!.Results ?? [];
        if (results.Count != requests.Count)
        {
            return [.. requests.Select(_ => JobSubmissionCoalescer.Mismatched(requests.Count, results.Count))];
        }

        return [.. results.Select(result => result is { Status: >= 200 and < 300, Job: { } job }
            ? Outcome.Success(job)
            : Outcome.Failure<JobView>(UpstreamCalls.FromUpstreamProblem(result.Status, result.Problem, ServiceName, logger)))];
    }

    private sealed record JobBatchAnswer(IReadOnlyList<JobBatchResult>? Results);

    private sealed record JobBatchResult(int Status, JobView? Job, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem);

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
