using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using ServiceDefaults.Problems;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Problems;
using Worker.Security;

namespace Worker.Admin;

/// <summary>A job message in the dead-letter queue, with what its headers say about its last attempt.</summary>
public sealed record DeadJob(Guid? JobId, string? MessageId, int Attempts, string? LastError, string? Model, JobStatus? Status);

/// <summary>Dead jobs, oldest first.</summary>
public sealed record DeadJobList(IReadOnlyList<DeadJob> Items);

/// <summary>What a requeue did: the jobs queued again, and the dead messages left where they were (with why).</summary>
public sealed record RequeueReport(IReadOnlyList<Guid> Requeued, IReadOnlyList<string> Skipped);

/// <summary>
/// The <c>jobs.dead</c> queue as an operator sees it: list what is in it, requeue one job or all of them. A requeued
/// job is failed → queued again (attempts from zero), its new queue message stored with it (the outbox) and published;
/// only then is the dead message removed. Every requeue is written to the audit log.
/// </summary>
internal sealed class DeadLetters(
    IServiceProvider services, IJobStore store, IOutbox outbox, IMessagePublisher publisher, AdminAudit audit,
    JobMetrics metrics, IOptions<MessagingOptions> options, TimeProvider clock)
{
    public const int MaxListed = 500;

    private MessagingOptions Settings => options.Value;

    /// <summary>
    /// Up to <paramref name="limit"/> dead jobs, oldest first. A snapshot: the messages are taken without
    /// acknowledgement and handed back when the listing ends.
    /// </summary>
    public async Task<Outcome<DeadJobList>> ListAsync(int? limit, CancellationToken cancellationToken)
    {
        var wanted = limit ?? 100;
        if (wanted is < 1 or > MaxListed)
        {
            return Outcome.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", $"?limit= is 1 to {MaxListed} (default 100).");
        }

        var listed = new List<DeadJob>();
        await WithDeadMessagesAsync(async (channel, message) =>
        {
            var jobId = JobOf(message);
            var job = jobId is { } id ? await store.FindAsync(id, cancellationToken) : null;
            listed.Add(new DeadJob(jobId, message.BasicProperties.MessageId, MessagingTopology.AttemptOf(message.BasicProperties),
                LastErrorOf(message.BasicProperties), job?.Model, job?.Status));
            return listed.Count < wanted;
        }, cancellationToken);
        return new DeadJobList(listed);
    }

    /// <summary>Requeues the dead job <paramref name="jobId"/>, or every dead job when it is null.</summary>
    public async Task<Outcome<RequeueReport>> RequeueAsync(Guid? jobId, Caller caller, CancellationToken cancellationToken)
    {
        var requeued = new List<Guid>();
        var skipped = new List<string>();
        await WithDeadMessagesAsync(async (channel, message) =>
        {
            var parsedId = JobOf(message);
            if (jobId is not null && parsedId != jobId)
            {
                return true;
            }

            if (parsedId is not { } parsed)
            {
                skipped.Add($"message {message.BasicProperties.MessageId}: not a job message");
                return jobId is null;
            }

            var revived = JobMessage.Alone(new QueuedJob(parsed, Activity.Current?.Id), Settings.JobsQueue, clock.GetUtcNow())
                with { Id = Guid.CreateVersion7() };
            if (!await store.TryReviveAsync(parsed, revived, cancellationToken))
            {
                // Unknown, or not failed (requeued already and done since): the dead message is stale.
                skipped.Add($"job {parsed}: not failed");
                return jobId is null;
            }

            try
            {
                await publisher.PublishAsync(revived, headers: null, cancellationToken);
                await outbox.MarkSentAsync(revived.Id, CancellationToken.None);
            }
            catch (BrokerUnavailableException)
            {
                // Stored with the job: the outbox relay publishes it after its grace period.
            }

            await channel.BasicAckAsync(message.DeliveryTag, multiple: false, cancellationToken);
            requeued.Add(parsed);
            metrics.Requeued(await store.FindAsync(parsed, cancellationToken) is { } job ? job.Model : null);
            await audit.RecordAsync(AdminAudit.JobRequeued, caller, parsed,
                new { attempts = MessagingTopology.AttemptOf(message.BasicProperties), lastError = LastErrorOf(message.BasicProperties) },
                cancellationToken);
            return jobId is null;
        }, cancellationToken);

        if (jobId is { } wanted && requeued.Count == 0)
        {
            return Outcome.Problem(StatusCodes.Status404NotFound, ProblemCodes.JobNotFound, "No such dead job.",
                skipped.Count > 0 ? skipped[0] : $"Job {wanted} is not in the dead-letter queue.");
        }

        return new RequeueReport(requeued, skipped);
    }

    /// <summary>
    /// Takes the dead messages one by one (unacknowledged) while <paramref name="visit"/> returns true; closing the
    /// channel hands every message the visit did not acknowledge back to the queue.
    /// </summary>
    private async Task WithDeadMessagesAsync(Func<IChannel, BasicGetResult, Task<bool>> visit, CancellationToken cancellationToken)
    {
        var connection = services.GetRequiredService<IConnection>();
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await MessagingTopology.DeclareDeadJobsQueueAsync(channel, Settings, cancellationToken);
            while (await channel.BasicGetAsync(Settings.DeadLetterQueue, autoAck: false, cancellationToken) is { } message)
            {
                if (!await visit(channel, message))
                {
                    break;
                }
            }
        }
        finally
        {
            await channel.CloseAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// The job a dead message is about. The consumer dead-letters one job per message; a message of several jobs is
    /// rejected only when unreadable, so it never names one.
    /// </summary>
    private static Guid? JobOf(BasicGetResult message) =>
        JobMessage.TryParse(message.Body) is { Jobs: [var only] } ? only.Id : null;

    private static string? LastErrorOf(IReadOnlyBasicProperties properties) =>
        properties.Headers?.TryGetValue(MessagingTopology.LastErrorHeader, out var value) == true
            ? value switch { byte[] bytes => Encoding.UTF8.GetString(bytes), string text => text, _ => null }
            : null;
}
