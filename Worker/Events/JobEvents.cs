using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;

namespace Worker.Events;

/// <summary>The data of <c>job.completed</c>: python-inference's predictions for a job, and which version made them.</summary>
public sealed record JobCompletedData(
    Guid JobId, string Owner, string Model, string? Version = null, int Attempts = 0, JsonElement? Predictions = null) : IEventData
{
    public static string EventType => DomainEvent.JobCompleted;
}

/// <summary>The data of <c>job.failed</c>: the problem that ended the job.</summary>
public sealed record JobFailedData(Guid JobId, string Owner, string Model, int Attempts, ProblemDetails Error) : IEventData
{
    public static string EventType => DomainEvent.JobFailed;
}

/// <summary>
/// The events the Worker announces about jobs, each as an outbox message written with the state change, in the trace of
/// its job (by default the current one). Their routing
/// key is the type, with <c>.callback</c> appended for a job that has a callback URL: the notifications queue binds to
/// those alone.
/// </summary>
internal static class JobEvents
{
    public static string RoutingKey(string type, bool hasCallback) => hasCallback ? $"{type}.callback" : type;

    public static OutboxMessage Completed(Job job, JsonElement result, MessagingOptions options, DateTimeOffset now,
        string? traceParent = null) =>
        DomainEvent.Announce(DomainEvent.JobCompleted, new JobCompletedData(
            job.Id,
            job.Owner,
            job.Model,
            result.TryGetProperty("version", out var version) ? version.GetString() : null,
            job.Attempts,
            result.TryGetProperty("predictions", out var predictions) ? predictions : null), job.Id, options, now,
            RoutingKey(DomainEvent.JobCompleted, job.CallbackUrl is not null), traceParent);

    public static OutboxMessage Failed(Job job, ProblemDetails error, MessagingOptions options, DateTimeOffset now,
        string? traceParent = null) =>
        DomainEvent.Announce(DomainEvent.JobFailed, new JobFailedData(job.Id, job.Owner, job.Model, job.Attempts, error),
            job.Id, options, now, RoutingKey(DomainEvent.JobFailed, job.CallbackUrl is not null), traceParent);
}
