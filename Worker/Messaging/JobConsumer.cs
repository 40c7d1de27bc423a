using System.Diagnostics;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Batching;
using Worker.Jobs;

namespace Worker.Messaging;

/// <summary>
/// Consumes the <c>jobs</c> queue and <c>jobs.retries</c>, where retries land when their delay is over (competing
/// consumers: every Worker replica subscribes). Deliveries are processed
/// in batches (<see cref="JobProcessor.ProcessBatchAsync"/>): the jobs of the deliveries that arrived while the
/// previous batch was being processed (a message carries one job or several), up to <see cref="MessagingOptions.JobBatchSize"/>.
/// A delivery is acked only after each of its jobs' outcome is committed. A job's failed attempt goes to the retry
/// queue of its back-off step as a message of its own, with the attempt count in <c>x-attempt</c>; the last one goes
/// to <c>jobs.dead</c> with <c>x-last-error</c>, and the job reads <c>failed</c>. The store's conditional transitions
/// make redeliveries harmless.
/// </summary>
internal sealed partial class JobConsumer : QueueConsumer
{
    private readonly IMessagePublisher _publisher;
    private readonly TimeProvider _clock;
    private readonly ILogger<JobConsumer> _logger;
    private readonly BatchQueue<JobDelivery, JobProcessingOutcome> _batches;

    public JobConsumer(IServiceProvider services, IMessagePublisher publisher, IOptions<MessagingOptions> options,
        TimeProvider clock, ILogger<JobConsumer> logger) : base(services, options, logger)
    {
        (_publisher, _clock, _logger) = (publisher, clock, logger);
        _batches = new BatchQueue<JobDelivery, JobProcessingOutcome>(ProcessBatchAsync, options.Value.JobBatchSize,
            handlers: options.Value.JobBatchConcurrency, overlapAfter: options.Value.JobBatchOverlapAfter, clock: clock);
    }

    protected override string QueueName => Settings.JobsQueue;

    protected override IReadOnlyList<string> QueueNames => [Settings.JobsQueue, MessagingTopology.DueRetriesQueueName(Settings)];

    protected override ushort PrefetchCount => Settings.JobPrefetchCount;

    // Each handler only waits for its batch: as many as the broker sends ahead on both queues, so every one can join
    // a batch, and a due retry is never stuck behind a full prefetch of new jobs.
    protected override ushort HandlerConcurrency => (ushort)(2 * Settings.JobPrefetchCount);

    protected override async Task DeclareTopologyAsync(IChannel channel, CancellationToken cancellationToken)
    {
        // A jobs queue created before its length limit (or with another one) keeps its arguments: the Worker runs on
        // it as it is and says so, rather than failing to start (docs/messaging.md, "Changing the queue limit").
        var differs = await MessagingTopology.JobsQueueDiffersAsync(Services.GetRequiredService<IConnection>(), Settings,
            cancellationToken);
        if (differs)
        {
            LogJobsQueueArgumentsDiffer(_logger, Settings.JobsQueue, Settings.JobsQueueMaxLength);
        }

        var outdated = await MessagingTopology.UpgradeRetryQueuesAsync(Services.GetRequiredService<IConnection>(), Settings,
            cancellationToken);
        foreach (var queue in outdated)
        {
            LogRetryQueueOutdated(_logger, queue, Settings.JobsQueue);
        }

        await MessagingTopology.DeclareJobQueuesAsync(channel, Settings, cancellationToken, jobsQueueExists: differs,
            outdatedRetryQueues: outdated);
    }

    protected override async Task<DeliveryOutcome> HandleAsync(BasicDeliverEventArgs delivery, CancellationToken cancellationToken)
    {
        if (JobMessage.TryParse(delivery.Body) is not { } message)
        {
            LogUnreadable(_logger, delivery.BasicProperties.MessageId);
            return DeliveryOutcome.Reject;
        }

        // A job of its own continues the delivery's trace (the header); each job of a message of several carries its own.
        var jobs = message.Jobs.Select(job => job with { TraceParent = job.TraceParent ?? Activity.Current?.Id }).ToList();
        if (jobs.Count > 1)
        {
            MessagingTelemetry.LinkBatch([.. jobs.Select(job => job.TraceParent)]);
        }

        var attempt = MessagingTopology.AttemptOf(delivery.BasicProperties);
        // The message's jobs go into one batch (one transaction, one model call) when the queue has room for them.
        var results = _batches.EnqueueTogether([.. jobs.Select(job => new JobDelivery(job.Id, job.TraceParent))], cancellationToken);
        var outcomes = await Task.WhenAll(jobs.Select((job, i) => OutcomeAsync(job, attempt, results[i])));
        try
        {
            // Each job that is to be tried again goes on as a message of its own, so a retry or a dead letter is one job's.
            foreach (var (job, outcome) in jobs.Zip(outcomes))
            {
                if (outcome is JobProcessingOutcome.RetryLater retry)
                {
                    await RetryAsync(job, attempt, retry.Reason, cancellationToken);
                }
            }

            return DeliveryOutcome.Ack;
        }
        catch (BrokerUnavailableException)
        {
            // Given back whole: its finished jobs are skipped when it comes again, and a job whose retry went out
            // already is attempted twice at most (the store's transitions record one outcome).
            return DeliveryOutcome.Requeue;
        }
    }

    private async Task<JobProcessingOutcome> OutcomeAsync(QueuedJob job, int attempt, Task<JobProcessingOutcome> result)
    {
        try
        {
            return await result;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // A job that makes processing throw is retried like an outage and ends dead-lettered, not in a loop.
            LogAttemptFailed(_logger, job.Id, attempt, exception);
            return new JobProcessingOutcome.RetryLater($"processing failed ({exception.GetType().Name})");
        }
    }

    private async Task RetryAsync(QueuedJob job, int attempt, string reason, CancellationToken cancellationToken)
    {
        if (attempt < Settings.MaxAttempts)
        {
            var delay = Settings.RetryDelayBefore(attempt + 1);
            await RepublishAsync(job, MessagingTopology.RetryQueueName(Settings, delay), attempt + 1, reason, cancellationToken);
            LogRetry(_logger, job.Id, attempt, delay, reason);
            return;
        }

        // Dead-letter first, then record: a crash in between repeats the attempt, never loses the message.
        await RepublishAsync(job, Settings.DeadLetterQueue, attempt, reason, cancellationToken);
        await using var scope = Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<JobProcessor>().GiveUpAsync(job.Id, attempt, reason, cancellationToken);
    }

    private async Task<IReadOnlyList<JobProcessingOutcome>> ProcessBatchAsync(IReadOnlyList<JobDelivery> deliveries,
        CancellationToken cancellationToken)
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<JobProcessor>().ProcessBatchAsync(deliveries, cancellationToken);
    }

    protected override async Task OnStoppedAsync() => await _batches.DisposeAsync();

    /// <summary>One job's message to <paramref name="queue"/>, in the job's own trace.</summary>
    private async Task RepublishAsync(QueuedJob job, string queue, int attempt, string reason, CancellationToken cancellationToken)
    {
        Activity.Current = null; // the publication continues the job's trace (its traceparent), not the delivery's
        await _publisher.PublishAsync(JobMessage.Alone(job, queue, _clock.GetUtcNow()),
            new Dictionary<string, object?>
            {
                [MessagingTopology.AttemptHeader] = attempt,
                [MessagingTopology.LastErrorHeader] = reason.Length > 500 ? reason[..500] : reason,
            },
            cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The queue {Queue} exists with other arguments than this Worker declares " +
        "(length limit {MaxLength}); it is used as it is. To apply the limit, see docs/messaging.md (Changing the queue limit).")]
    private static partial void LogJobsQueueArgumentsDiffer(ILogger logger, string queue, int maxLength);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retry queue {Queue} was created by an older build (its retries go " +
        "back into {JobsQueue}, where a full queue drops them) and still holds messages; it is used as it is and upgraded " +
        "at a later start once it is empty.")]
    private static partial void LogRetryQueueOutdated(ILogger logger, string queue, string jobsQueue);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-lettered an unreadable job message (message id {MessageId}).")]
    private static partial void LogUnreadable(ILogger logger, string? messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} threw.")]
    private static partial void LogAttemptFailed(ILogger logger, Guid jobId, int attempt, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} failed; retrying in {Delay}: {Reason}")]
    private static partial void LogRetry(ILogger logger, Guid jobId, int attempt, TimeSpan delay, string reason);
}
