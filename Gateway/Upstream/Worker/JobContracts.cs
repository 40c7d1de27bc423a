using System.Text.Json;
using Gateway.Upstream.Inference;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Upstream.Worker;

/// <summary>
/// An asynchronous prediction job: the same body as a synchronous prediction, and optionally a URL that receives
/// the outcome as a signed webhook.
/// </summary>
public sealed record JobSubmission(string? Model, IReadOnlyList<JsonElement>? Inputs, string? CallbackUrl = null);

/// <summary>A job's state: <c>queued</c>, <c>running</c>, <c>succeeded</c> (with <c>result</c>) or <c>failed</c> (with <c>error</c>).</summary>
public sealed record JobView(
    Guid Id,
    string Model,
    string Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    PredictionResponse? Result,
    ProblemDetails? Error,
    string? CallbackUrl = null);

/// <summary>One page of the caller's jobs, newest first; pass <c>nextPageToken</c> as <c>pageToken</c> for the next.</summary>
public sealed record JobList(IReadOnlyList<JobView> Items, string? NextPageToken);
