using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Worker.Messaging.Outbox;
using Worker.Webhooks;

namespace Worker.Messaging;

/// <summary>
/// The numbers an operator watches on the broker and the outbox, as observable gauges: messages and consumers per
/// queue (a passive declare answers both), the outbox backlog and the age of its oldest row. They are sampled every
/// few seconds in the background, so an export never waits on the broker or the database; every replica reports
/// the same broker and database, so a chart reads one replica's series.
/// </summary>
internal sealed partial class BrokerAndOutboxGauges : BackgroundService
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(5);

    private readonly IServiceProvider _services;
    private readonly IOutbox _outbox;
    private readonly TimeProvider _clock;
    private readonly ILogger<BrokerAndOutboxGauges> _logger;
    private readonly IReadOnlyList<string> _queues;
    private volatile IReadOnlyList<(string Queue, uint Messages, uint Consumers)> _queueSample = [];
    private volatile OutboxBacklog? _backlog;
    private IChannel? _channel;

    public BrokerAndOutboxGauges(IServiceProvider services, IOutbox outbox, IOptions<MessagingOptions> messaging,
        IOptions<WebhookOptions> webhooks, TimeProvider clock, IMeterFactory meters, ILogger<BrokerAndOutboxGauges> logger)
    {
        (_services, _outbox, _clock, _logger) = (services, outbox, clock, logger);
        var settings = messaging.Value;
        _queues =
        [
            settings.JobsQueue, MessagingTopology.DueRetriesQueueName(settings), .. settings.EffectiveRetryDelays.Distinct().Select(delay => MessagingTopology.RetryQueueName(settings, delay)),
            settings.DeadLetterQueue, settings.AuditQueue, settings.NotificationsQueue, settings.EventsDeadLetterQueue,
            webhooks.Value.Queue, webhooks.Value.DeadLetterQueue,
        ];

        var meter = meters.Create(Telemetry.MeterName);
        meter.CreateObservableGauge("rabbitmq.queue.messages", () => QueueMeasurements(sample => sample.Messages),
            "{message}", "Messages ready in the queue (not counting those delivered and unacknowledged).");
        meter.CreateObservableGauge("rabbitmq.queue.consumers", () => QueueMeasurements(sample => sample.Consumers),
            "{consumer}", "Consumers subscribed to the queue.");
        meter.CreateObservableGauge<long>("outbox.backlog",
            () => _backlog is { } backlog ? [new Measurement<long>(backlog.Count)] : [],
            "{message}", "Outbox rows the broker has not confirmed yet.");
        meter.CreateObservableGauge<double>("outbox.oldest_age", () => _backlog is { } backlog
                ? [new Measurement<double>(backlog.OldestCreatedAt is { } oldest ? Math.Max(0, (_clock.GetUtcNow() - oldest).TotalSeconds) : 0)]
                : [],
            "s", "Age of the oldest unconfirmed outbox row (0 when there is none).");
    }

    private IEnumerable<Measurement<long>> QueueMeasurements(Func<(string Queue, uint Messages, uint Consumers), uint> value) =>
        _queueSample.Select(sample => new Measurement<long>(value(sample),
            new KeyValuePair<string, object?>("messaging.system", MessagingTelemetry.System),
            new KeyValuePair<string, object?>("messaging.destination.name", sample.Queue)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SampleInterval, _clock);
        do
        {
            try
            {
                _backlog = await _outbox.BacklogAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogSampleFailed(_logger, "outbox", exception.Message);
            }

            try
            {
                _queueSample = await SampleQueuesAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // The broker is away: no queue numbers rather than stale ones.
                _queueSample = [];
                LogSampleFailed(_logger, "broker", exception.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task<IReadOnlyList<(string, uint, uint)>> SampleQueuesAsync(CancellationToken cancellationToken)
    {
        var samples = new List<(string, uint, uint)>(_queues.Count);
        foreach (var queue in _queues)
        {
            if (_channel is not { IsOpen: true })
            {
                if (_channel is not null)
                {
                    await _channel.DisposeAsync();
                }

                _channel = await _services.GetRequiredService<IConnection>().CreateChannelAsync(cancellationToken: cancellationToken);
            }

            try
            {
                var declared = await _channel.QueueDeclarePassiveAsync(queue, cancellationToken);
                samples.Add((queue, declared.MessageCount, declared.ConsumerCount));
            }
            catch (OperationInterruptedException)
            {
                // Not declared yet (its consumer has not started): the broker closed the channel; the next queue reopens it.
            }
        }

        return samples;
    }

    public override void Dispose()
    {
        _channel?.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Gauges: cannot sample the {Source} now: {Reason}")]
    private static partial void LogSampleFailed(ILogger logger, string source, string reason);
}
