using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;

namespace Worker.Jobs;

[JsonConverter(typeof(JsonStringEnumConverter<JobStatus>))]
public enum JobStatus
{
    [JsonStringEnumMemberName("queued")] Queued,
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("succeeded")] Succeeded,
    [JsonStringEnumMemberName("failed")] Failed,
}

/// <summary>
/// A job as stored. <see cref="Owner"/> is the subject that submitted it (only they may read it);
/// <see cref="Result"/> is python-inference's prediction response, kept verbatim.
/// </summary>
public sealed record Job(
    Guid Id,
    string Owner,
    string Model,
    JsonElement Inputs,
    JobStatus Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    JsonElement? Result,
    ProblemDetails? Error)
{
    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed;

    public static Job Queued(Guid id, string owner, string model, JsonElement inputs, DateTimeOffset now) =>
        new(id, owner, model, inputs, JobStatus.Queued, 0, now, now, null, null);
}
