using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Worker.Messaging.Outbox;

/// <summary>
/// Publishes what was committed to the outbox and not yet confirmed: events right after their transaction (it is
/// woken), and job messages whose request died between commit and confirm (after the grace period). Publishing
/// twice is possible (a crash after the confirm, before marking it sent; two replicas): every consumer
/// recognises a message by its id, so the effect is once.
/// </summary>
internal sealed partial class OutboxRelay(
    IOutbox outbox, IMessagePublisher publisher, IOptions<MessagingOptions> options, TimeProvider clock,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    public const string JobMessageType = "job.submitted";
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var woken = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RelayPendingAsync(settings, woken, stoppingToken);
            }
            catch (BrokerUnavailableException exception)
            {
                LogBrokerUnavailable(logger, exception.Message);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogRelayFailed(logger, exception);
            }

            try
            {
                woken = await outbox.WaitAsync(settings.OutboxPollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <param name="woken">
    /// Woken by this process's own commit: its events go out at once. A periodic sweep leaves events younger than
    /// two poll intervals to the replica that wrote them (and was woken). Either way every message is claimed first,
    /// so relays on several replicas never publish one message at the same time.
    /// </param>
    private async Task RelayPendingAsync(MessagingOptions settings, bool woken, CancellationToken cancellationToken)
    {
        var eventAge = woken ? TimeSpan.Zero : settings.OutboxPollInterval * 2;
        IReadOnlyList<OutboxMessage> due;
        do
        {
            var now = clock.GetUtcNow();
            var claimStarted = DateTimeOffset.UtcNow;
            // Most polls find nothing and leave no trace: on PostgreSQL each of their statements would otherwise be a
            // trace of its own, once a second on every replica. A claim that finds messages is in the relay's span.
            using (Telemetry.Untraced())
            {
                due = await outbox.ClaimAsync(now - settings.OutboxGracePeriod, now - eventAge, BatchSize, ClaimLease(settings),
                    cancellationToken);
            }

            if (due.Count == 0)
            {
                return;
            }

            using var relay = StartRelaySpan(due, claimStarted);
            // Published together (the channel tracks each confirm), recorded together: one transaction per batch.
            // A batch that fails part-way is recorded for the part that was confirmed; the rest is released and tried again.
            // Each message's publication continues the trace of the change that wrote it (RabbitMqPublisher), not this one.
            List<Task> publishes;
            var current = Activity.Current;
            Activity.Current = null;
            try
            {
                publishes = due.Select(message => publisher.PublishAsync(message, headers: null, cancellationToken)).ToList();
            }
            finally
            {
                Activity.Current = current;
            }

            try
            {
                await Task.WhenAll(publishes);
            }
            finally
            {
                var confirmed = due.Where((_, i) => publishes[i].IsCompletedSuccessfully).Select(message => message.Id).ToList();
                relay?.SetTag("outbox.messages.confirmed", confirmed.Count);
                if (confirmed.Count > 0)
                {
                    await outbox.MarkSentAsync(confirmed, CancellationToken.None);
                }

                if (confirmed.Count < due.Count)
                {
                    relay?.SetStatus(ActivityStatusCode.Error, $"{due.Count - confirmed.Count} of {due.Count} not confirmed");
                    await outbox.ReleaseAsync(due.Select(message => message.Id).Except(confirmed).ToList(), CancellationToken.None);
                }
            }

            foreach (var message in due.Where(message => message.Type == JobMessageType))
            {
                LogRecovered(logger, message.Id, JobMessage.TryParse(message.Body)?.Jobs.Count ?? 0);
            }
        }
        while (due.Count == BatchSize);
    }

    /// <summary>
    /// The span of one relayed batch, from its claim on (the claim itself runs untraced): a root of its own, linked to
    /// the trace of every message it carries.
    /// </summary>
    private static Activity? StartRelaySpan(IReadOnlyList<OutboxMessage> due, DateTimeOffset claimStarted)
    {
        var links = due.Select(message => MessagingTelemetry.CarriedContext(message.TraceParent))
            .Where(context => context != default).Select(context => new ActivityLink(context));
        var relay = Telemetry.ActivitySource.StartActivity(ActivityKind.Internal, parentContext: default, links: links,
            startTime: claimStarted, name: "relay outbox");
        relay?.SetTag("outbox.messages", due.Count);
        return relay;
    }

    /// <summary>How long a claim keeps other relays away: well past a batch's publish, so only a dead relay's claims expire.</summary>
    private static TimeSpan ClaimLease(MessagingOptions settings) => settings.PublishTimeout * 4;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay: the broker is unavailable ({Reason}); retrying.")]
    private static partial void LogBrokerUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox relay failed; retrying.")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay published job message {MessageId} ({Jobs} jobs), whose submission did not finish.")]
    private static partial void LogRecovered(ILogger logger, Guid messageId, int jobs);
}
