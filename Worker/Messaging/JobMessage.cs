using System.Text.Json;
using System.Text.Json.Serialization;
using Worker.Jobs;
using Worker.Messaging.Outbox;

namespace Worker.Messaging;

/// <summary>One job a <see cref="JobMessage"/> queues, and the trace of its submission (null: the message's header).</summary>
public sealed record QueuedJob(Guid Id, string? TraceParent);

/// <summary>
/// The body of a message on the <c>jobs</c> queue: only job ids (the job store is the source of truth for inputs and
/// state). A message of one job is <c>{"jobId":…}</c>, its trace in the message's header, as every build has written
/// it; the jobs admitted together (one group commit) travel as one message, <c>{"jobs":[{"id":…,"traceparent":…},…]}</c>,
/// each with its own trace, so the broker and the consumers handle one message per batch instead of one per job.
/// </summary>
public sealed record JobMessage(IReadOnlyList<QueuedJob> Jobs)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The most jobs one message carries.</summary>
    public const int MaxJobs = JobAdmissions.MaxBatchSize;

    public static JobMessage Of(Guid jobId) => new([new QueuedJob(jobId, null)]);

    public ReadOnlyMemory<byte> ToBytes() => Jobs.Count == 1
        ? JsonSerializer.SerializeToUtf8Bytes(new Single(Jobs[0].Id), Json)
        : JsonSerializer.SerializeToUtf8Bytes(new Many([.. Jobs.Select(job => new Entry(job.Id, job.TraceParent))]), Json);

    /// <summary>Either form; null when the body is neither, names no job, more than <see cref="MaxJobs"/>, or an empty id.</summary>
    public static JobMessage? TryParse(ReadOnlyMemory<byte> body)
    {
        try
        {
            var read = JsonSerializer.Deserialize<Wire>(body.Span, Json);
            IReadOnlyList<QueuedJob>? jobs = read switch
            {
                { JobId: { } id, Jobs: null } => [new QueuedJob(id, null)],
                { JobId: null, Jobs: { Length: > 0 and <= MaxJobs } entries } when entries.All(entry => entry is not null) =>
                    [.. entries.Select(entry => new QueuedJob(entry.Id, entry.TraceParent))],
                _ => null,
            };
            return jobs is not null && jobs.All(job => job.Id != Guid.Empty) ? new JobMessage(jobs) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The queue messages of jobs admitted together, at most <paramref name="maxPerMessage"/> jobs each. A job alone
    /// keeps the form and the id of the message it always had (its own id).
    /// </summary>
    public static IReadOnlyList<OutboxMessage> For(IReadOnlyList<QueuedJob> jobs, string queue, int maxPerMessage,
        DateTimeOffset now) =>
    [
        .. jobs.Chunk(PerMessage(maxPerMessage)).Select(chunk => chunk.Length == 1
            ? Alone(chunk[0], queue, now)
            : new OutboxMessage(Guid.CreateVersion7(now), string.Empty, queue, OutboxRelay.JobMessageType,
                new JobMessage(chunk).ToBytes(), chunk[0].TraceParent, null, now)),
    ];

    /// <summary>
    /// The message of one job to <paramref name="queue"/> (the jobs queue, a retry queue, the dead letters):
    /// <c>{"jobId"}</c>, with the job's id as message id and its trace as the message's.
    /// </summary>
    public static OutboxMessage Alone(QueuedJob job, string queue, DateTimeOffset now) =>
        new(job.Id, string.Empty, queue, OutboxRelay.JobMessageType, Of(job.Id).ToBytes(), job.TraceParent, job.Id, now);

    /// <summary>How many jobs <see cref="For"/> puts in each message but the last, for a setting of <paramref name="maxPerMessage"/>.</summary>
    public static int PerMessage(int maxPerMessage) => Math.Clamp(maxPerMessage, 1, MaxJobs);

    private sealed record Single(Guid JobId);

    private sealed record Many(Entry[] Jobs);

    private sealed record Entry(Guid Id, [property: JsonPropertyName("traceparent")] string? TraceParent);

    private sealed record Wire(Guid? JobId, Entry[]? Jobs);
}
