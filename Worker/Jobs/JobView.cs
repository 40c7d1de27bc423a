using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;

namespace Worker.Jobs;

/// <summary>
/// A job as the Worker shows it outside, in its API and in webhooks (inputs are not echoed back; the error without
/// internal addresses: <see cref="InternalAddresses"/>).
/// </summary>
public sealed record JobView(
    Guid Id, string Model, JobStatus Status, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    JsonElement? Result, ProblemDetails? Error, string? CallbackUrl)
{
    public static JobView From(Job job) => new(job.Id, job.Model, job.Status, job.Attempts, job.CreatedAt,
        job.UpdatedAt, job.Result, InternalAddresses.Scrub(job.Error), job.CallbackUrl);
}
