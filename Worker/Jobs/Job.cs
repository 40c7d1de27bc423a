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
/// <see cref="Result"/> is python-inference's prediction response, kept verbatim; <see cref="CallbackUrl"/>, when
/// set, receives the outcome as a signed webhook.
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
    ProblemDetails? Error,
    string? CallbackUrl = null,
    string? IdempotencyKey = null)
{
    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed;

    public static Job Queued(Guid id, string owner, string model, JsonElement inputs, DateTimeOffset now,
        string? callbackUrl = null, string? idempotencyKey = null) =>
        new(id, owner, model, inputs, JobStatus.Queued, 0, now, now, null, null, callbackUrl, idempotencyKey);
}

/// <summary>
/// What <see cref="IJobStore.AddAsync"/> did: stored <see cref="Job"/> (<see cref="Created"/>), found the job the
/// owner already submitted under the same idempotency key (<see cref="SameRequest"/> tells whether the body matched),
/// or stored nothing because the owner has their quota of unfinished jobs (<see cref="OverQuota"/>). A stored job's
/// <see cref="Message"/> is the queue message it shares with the jobs admitted alongside it.
/// </summary>
public sealed record JobAdmission(Job Job, bool Created, bool SameRequest, bool OverQuota = false,
    Worker.Messaging.Outbox.OutboxMessage? Message = null);

/// <summary>One page of an owner's jobs, newest first; <see cref="NextPageToken"/> continues after the last one.</summary>
public sealed record JobPage(IReadOnlyList<Job> Jobs, string? NextPageToken);
