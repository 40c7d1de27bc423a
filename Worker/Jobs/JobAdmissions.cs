using Worker.Batching;
using Worker.Messaging.Outbox;

namespace Worker.Jobs;

/// <summary>
/// Group commit for submissions: jobs submitted while the previous batch was being written are stored together
/// (one transaction: a multi-row insert of the jobs and one of their queue messages), and the broker's confirms of
/// published jobs are recorded together as well. Each caller still gets its own admission, after the commit.
/// </summary>
public sealed class JobAdmissions : IAsyncDisposable
{
    /// <summary>The most jobs one transaction stores.</summary>
    public const int MaxBatchSize = 100;

    private readonly BatchQueue<JobToAdmit, JobAdmission> _admissions;
    private readonly BatchQueue<Guid, Guid> _confirms;

    public JobAdmissions(IJobStore store, IOutbox outbox)
    {
        // One batch in flight per queue, on either provider: SQLite has one writer, and on PostgreSQL a second handler
        // halved the batches (more statements and commits per job) without committing more per second, since the
        // stack shares its cores with the server (measured: docs/performance.md, "PostgreSQL's jobs profile").
        _admissions = new BatchQueue<JobToAdmit, JobAdmission>(store.AddAsync, MaxBatchSize);
        _confirms = new BatchQueue<Guid, Guid>(async (ids, cancellationToken) =>
        {
            await outbox.MarkSentAsync(ids, cancellationToken);
            return ids;
        }, MaxBatchSize);
    }

    /// <summary>How many transactions stored jobs so far (tests: concurrent submissions share them).</summary>
    internal long AdmissionBatches => _admissions.Batches;

    /// <summary>Stores the job and its queue message (with those submitted at the same time); see <see cref="IJobStore.AddAsync(Job, string, OutboxMessage, int, CancellationToken)"/>.</summary>
    public Task<JobAdmission> AddAsync(Job job, string requestHash, OutboxMessage message, int maxUnfinished,
        CancellationToken cancellationToken) =>
        _admissions.EnqueueAsync(new JobToAdmit(job, requestHash, message, maxUnfinished), cancellationToken);

    /// <summary>
    /// Records that the broker confirmed the job's message (with other confirms of the moment), without waiting for
    /// the record's commit: completes once it is queued. A record that is lost (the process dies, the write fails)
    /// only lets the outbox relay publish the message again after the grace period, which consumers recognise.
    /// </summary>
    public ValueTask MarkSentAsync(Guid messageId, CancellationToken cancellationToken) =>
        _confirms.PostAsync(messageId, cancellationToken);

    /// <summary>Completes once every confirm queued before it is recorded (tests).</summary>
    internal Task SentMarksRecordedAsync(CancellationToken cancellationToken) =>
        _confirms.EnqueueAsync(Guid.Empty, cancellationToken); // one handler, in order: handled after those before it

    public async ValueTask DisposeAsync()
    {
        await _admissions.DisposeAsync();
        await _confirms.DisposeAsync();
    }
}
