using System.Diagnostics;
using Worker.Batching;
using Worker.Messaging;
using Worker.Messaging.Outbox;

namespace Worker.Jobs;

/// <summary>
/// An admission, and once the job was stored, the publication of the queue message it shares with the jobs admitted
/// alongside it: completes when the broker confirmed that message, fails with <see cref="BrokerUnavailableException"/>
/// (the jobs and their message are deleted again by then) when it did not.
/// </summary>
public sealed record AdmittedJob(JobAdmission Admission, Task Queued);

/// <summary>
/// Group commit for submissions: jobs submitted while the previous batch was being written are stored together (one
/// transaction: a multi-row insert of the jobs, and their queue message), and that one message is published for all of
/// them (<see cref="MessagingOptions.MaxJobsPerMessage"/>); the broker's confirms are recorded together as well. Each
/// caller still gets its own admission, after the commit, and awaits its message's confirm.
/// </summary>
public sealed class JobAdmissions : IAsyncDisposable
{
    /// <summary>The most jobs one transaction stores.</summary>
    public const int MaxBatchSize = 100;

    private readonly IJobStore _store;
    private readonly IMessagePublisher _publisher;
    private readonly BatchQueue<JobToAdmit, AdmittedJob> _admissions;
    private readonly BatchQueue<Guid, Guid> _confirms;

    public JobAdmissions(IJobStore store, IOutbox outbox, IMessagePublisher publisher)
    {
        (_store, _publisher) = (store, publisher);
        // One batch in flight per queue, on either provider: SQLite has one writer, and on PostgreSQL a second handler
        // halved the batches (more statements and commits per job) without committing more per second, since the
        // stack shares its cores with the server (measured: docs/performance.md, "PostgreSQL's jobs profile"). The
        // next batch does not wait for this one's confirm.
        _admissions = new BatchQueue<JobToAdmit, AdmittedJob>(AdmitAsync, MaxBatchSize);
        _confirms = new BatchQueue<Guid, Guid>(async (ids, cancellationToken) =>
        {
            await outbox.MarkSentAsync(ids, cancellationToken);
            return ids;
        }, MaxBatchSize);
    }

    /// <summary>How many transactions stored jobs so far (tests: concurrent submissions share them).</summary>
    internal long AdmissionBatches => _admissions.Batches;

    /// <summary>
    /// Stores the job (with those submitted at the same time; see <see cref="IJobStore.AddAsync(IReadOnlyList{JobToAdmit}, CancellationToken)"/>)
    /// and starts publishing its queue message.
    /// </summary>
    public Task<AdmittedJob> AddAsync(Job job, string requestHash, int maxUnfinished, string? traceParent,
        CancellationToken cancellationToken) =>
        _admissions.EnqueueAsync(new JobToAdmit(job, requestHash, maxUnfinished, traceParent), cancellationToken);

    private async Task<IReadOnlyList<AdmittedJob>> AdmitAsync(IReadOnlyList<JobToAdmit> jobs, CancellationToken cancellationToken)
    {
        var admissions = await _store.AddAsync(jobs, cancellationToken);
        var publications = admissions.Where(admission => admission.Message is not null)
            .GroupBy(admission => admission.Message!.Id)
            .ToDictionary(message => message.Key, message => QueueAsync(message.First().Message!, [.. message.Select(admission => admission.Job.Id)]));
        return [.. admissions.Select(admission => new AdmittedJob(admission,
            admission.Message is { } message ? publications[message.Id] : Task.CompletedTask))];
    }

    /// <summary>
    /// Publishes one queue message and records its confirm without waiting for the record's commit: a record that is
    /// lost (the process dies, the write fails) only lets the outbox relay publish the message again after the grace
    /// period, which consumers recognise. Not confirmed: the message's jobs are deleted with it, so the relay never
    /// publishes what their submitters were refused. It runs to the end even if every submitter has gone.
    /// </summary>
    private async Task QueueAsync(OutboxMessage message, IReadOnlyCollection<Guid> jobs)
    {
        // The publication continues the first job's trace (the message's traceparent), not the context the batch runs in.
        Activity.Current = null;
        try
        {
            await _publisher.PublishAsync(message, headers: null, CancellationToken.None);
        }
        catch (BrokerUnavailableException)
        {
            await _store.RemoveAsync(jobs, message.Id, CancellationToken.None);
            throw;
        }

        await _confirms.PostAsync(message.Id, CancellationToken.None);
    }

    /// <summary>Completes once every confirm queued before it is recorded (tests).</summary>
    internal Task SentMarksRecordedAsync(CancellationToken cancellationToken) =>
        _confirms.EnqueueAsync(Guid.Empty, cancellationToken); // one handler, in order: handled after those before it

    public async ValueTask DisposeAsync()
    {
        await _admissions.DisposeAsync();
        await _confirms.DisposeAsync();
    }
}
