using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Worker.Jobs;

/// <summary>
/// The job counters and the end-to-end duration, recorded at the job's state transitions (submitted, finished,
/// dead-lettered) where this process recorded them: a redelivered job is counted once.
/// </summary>
public sealed class JobMetrics
{
    private readonly Counter<long> _submitted;
    private readonly Counter<long> _completed;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _requeued;
    private readonly Histogram<double> _duration;

    public JobMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Telemetry.MeterName);
        _submitted = meter.CreateCounter<long>("jobs.submitted", "{job}", "Jobs accepted (stored and queued).");
        _completed = meter.CreateCounter<long>("jobs.completed", "{job}", "Jobs that finished with a result.");
        _failed = meter.CreateCounter<long>("jobs.failed", "{job}",
            "Jobs that finished with an error (python-inference refused the inputs, or every attempt failed).");
        _deadLettered = meter.CreateCounter<long>("jobs.dead_lettered", "{job}",
            "Job messages moved to the dead-letter queue after their last attempt.");
        _requeued = meter.CreateCounter<long>("jobs.requeued", "{job}",
            "Failed jobs an operator put back on the queue from the dead-letter queue.");
        _duration = meter.CreateHistogram("jobs.duration", unit: "s",
            description: "From submission to the recorded outcome, queueing and retries included.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Telemetry.DurationBuckets });
    }

    public void Submitted(Job job) => _submitted.Add(1, new KeyValuePair<string, object?>("model.name", job.Model));

    public void Completed(Job job, DateTimeOffset now)
    {
        var tags = new TagList { { "model.name", job.Model }, { "job.status", "succeeded" } };
        _completed.Add(1, tags);
        _duration.Record((now - job.CreatedAt).TotalSeconds, tags);
    }

    /// <param name="errorType">The problem's code (e.g. <c>model_not_found</c>, <c>upstream_unavailable</c>).</param>
    public void Failed(Job job, string errorType, DateTimeOffset now)
    {
        var tags = new TagList { { "model.name", job.Model }, { "job.status", "failed" } };
        _duration.Record((now - job.CreatedAt).TotalSeconds, tags);
        tags.Add("error.type", errorType);
        _failed.Add(1, tags);
    }

    /// <param name="model">The job's model, when the message could be read.</param>
    public void DeadLettered(string? model) =>
        _deadLettered.Add(1, new KeyValuePair<string, object?>("model.name", model ?? "unknown"));

    public void Requeued(string? model) =>
        _requeued.Add(1, new KeyValuePair<string, object?>("model.name", model ?? "unknown"));
}
