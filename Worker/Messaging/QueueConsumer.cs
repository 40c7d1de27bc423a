using System.Diagnostics;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Worker.Messaging;

/// <summary>What to tell the broker about a delivery once it is handled.</summary>
public enum DeliveryOutcome
{
    /// <summary>The effect is recorded (or was already): remove the message.</summary>
    Ack,

    /// <summary>It can never be handled (unreadable): dead-letter it.</summary>
    Reject,

    /// <summary>Not handled now (shutting down, a transient failure): give it back for another try.</summary>
    Requeue,
}

/// <summary>
/// A consumer of one queue with manual acknowledgements after the handler returns, prefetch and bounded
/// concurrency. The connection recovers by itself after a broker restart (channels, queues and consumers are
/// re-declared); a graceful stop cancels the subscription, lets in-flight deliveries finish for
/// <see cref="MessagingOptions.DrainTimeout"/>, and closes the channel, which hands anything unfinished back.
/// </summary>
internal abstract partial class QueueConsumer(IServiceProvider services, IOptions<MessagingOptions> options, ILogger logger)
    : BackgroundService
{
    private readonly CancellationTokenSource _handlersStopping = new();
    private readonly SemaphoreSlim _switching = new(1, 1);
    private IChannel? _channel;
    private AsyncEventingBasicConsumer? _consumer;
    private readonly List<string> _consumerTags = [];
    private bool _paused;
    private int _inFlight;
    private Task? _stopped;
    private volatile bool _declared;

    protected MessagingOptions Settings => options.Value;

    protected IServiceProvider Services => services;

    protected ILogger Logger => logger;

    protected abstract string QueueName { get; }

    /// <summary>The queue this consumer is known by (<see cref="QueueName"/>), for the health check.</summary>
    internal string Name => QueueName;

    /// <summary>
    /// Whether this consumer has declared its queues and exchanges: once is enough, since they are durable and outlive a
    /// broker restart. Until every consumer has, the Worker is not ready (<see cref="Health.ConsumersHealthCheck"/>): a
    /// job published before the jobs queue exists would be returned unroutable, and its submission refused.
    /// </summary>
    internal bool HasDeclaredTopology => _declared;

    /// <summary>Every queue this consumer takes deliveries from, on its one channel: by default <see cref="QueueName"/>.</summary>
    protected virtual IReadOnlyList<string> QueueNames => [QueueName];

    /// <summary>Unacknowledged deliveries the broker sends ahead.</summary>
    protected virtual ushort PrefetchCount => Settings.PrefetchCount;

    /// <summary>Deliveries whose handlers run at once.</summary>
    protected virtual ushort HandlerConcurrency => Settings.Concurrency;

    protected abstract Task DeclareTopologyAsync(IChannel channel, CancellationToken cancellationToken);

    protected abstract Task<DeliveryOutcome> HandleAsync(BasicDeliverEventArgs delivery, CancellationToken cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Until the broker answers (it may be restarting while this Worker starts), keep trying instead of dying.
        for (var delay = TimeSpan.FromMilliseconds(250); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks)))
        {
            try
            {
                await SubscribeAsync(stoppingToken);
                return;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogSubscribeFailed(logger, QueueName, exception.Message);
                await Task.Delay(delay, stoppingToken);
            }
        }
    }

    private async Task SubscribeAsync(CancellationToken stoppingToken)
    {
        var connection = services.GetRequiredService<IConnection>();
        await _switching.WaitAsync(stoppingToken);
        try
        {
            _channel = await connection.CreateChannelAsync(new CreateChannelOptions(
                publisherConfirmationsEnabled: false, publisherConfirmationTrackingEnabled: false,
                consumerDispatchConcurrency: HandlerConcurrency), stoppingToken);
            await DeclareTopologyAsync(_channel, stoppingToken);
            _declared = true;
            await _channel.BasicQosAsync(prefetchSize: 0, prefetchCount: PrefetchCount, global: false, stoppingToken);

            var channel = _channel;
            _consumer = new AsyncEventingBasicConsumer(channel);
            _consumer.ReceivedAsync += (_, delivery) => OnReceivedAsync(channel, delivery);
            _consumerTags.Clear();
            if (!_paused)
            {
                await ConsumeAllAsync(_channel, _consumer, stoppingToken);
            }
        }
        finally
        {
            _switching.Release();
        }
    }

    /// <summary>Whether this consumer has stopped taking deliveries (<see cref="SetPausedAsync"/>).</summary>
    public bool IsPaused => Volatile.Read(ref _paused);

    /// <summary>
    /// Pausing cancels the subscription (deliveries in hand finish and are acknowledged; the rest wait in the queue);
    /// resuming subscribes again. Idempotent; before the first subscription it only decides how that one starts.
    /// </summary>
    public async Task SetPausedAsync(bool paused, CancellationToken cancellationToken)
    {
        await _switching.WaitAsync(cancellationToken);
        try
        {
            if (_paused == paused)
            {
                return;
            }

            Volatile.Write(ref _paused, paused);
            if (_channel is not { IsOpen: true } channel || _consumer is null)
            {
                return;
            }

            if (paused && _consumerTags.Count > 0)
            {
                foreach (var tag in _consumerTags)
                {
                    await channel.BasicCancelAsync(tag, noWait: false, cancellationToken);
                }

                _consumerTags.Clear();
                LogPaused(logger, QueueName);
            }
            else if (!paused && _consumerTags.Count == 0)
            {
                await ConsumeAllAsync(channel, _consumer, cancellationToken);
            }
        }
        finally
        {
            _switching.Release();
        }
    }

    private async Task ConsumeAllAsync(IChannel channel, AsyncEventingBasicConsumer consumer, CancellationToken cancellationToken)
    {
        foreach (var queue in QueueNames)
        {
            _consumerTags.Add(await channel.BasicConsumeAsync(queue, autoAck: false, consumer, cancellationToken));
            LogConsuming(logger, queue, HandlerConcurrency, PrefetchCount);
        }
    }

    private async Task OnReceivedAsync(IChannel channel, BasicDeliverEventArgs delivery)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            DeliveryOutcome outcome;
            using var process = MessagingTelemetry.StartProcess(QueueName, delivery);
            try
            {
                outcome = await HandleAsync(delivery, _handlersStopping.Token);
            }
            catch (OperationCanceledException) when (_handlersStopping.IsCancellationRequested)
            {
                outcome = DeliveryOutcome.Requeue;
            }
            catch (Exception exception)
            {
                process?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
                LogHandlerFailed(logger, QueueName, delivery.BasicProperties.MessageId, exception);
                outcome = DeliveryOutcome.Requeue;
            }

            process?.SetTag("messaging.rabbitmq.delivery.outcome", outcome.ToString().ToLowerInvariant());

            // On a channel that closed meanwhile the broker has already requeued the delivery.
            if (channel.IsOpen)
            {
                await (outcome switch
                {
                    DeliveryOutcome.Ack => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false),
                    DeliveryOutcome.Reject => channel.BasicRejectAsync(delivery.DeliveryTag, requeue: false),
                    _ => channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true),
                });
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>
    /// Stops once: a second call (a test host stops its application twice at once, from the factory and from the
    /// application's own shutdown, then disposes it) waits for the first instead of touching what it released.
    /// </summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_handlersStopping)
        {
            return _stopped ??= StopOnceAsync(cancellationToken);
        }
    }

    private async Task StopOnceAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true })
        {
            try
            {
                foreach (var tag in _consumerTags)
                {
                    await _channel.BasicCancelAsync(tag, noWait: false, cancellationToken);
                }
            }
            catch (AlreadyClosedException)
            {
                // The channel closed between the check and the cancel (the broker went away): no deliveries can come.
            }
        }

        // No new deliveries now; give the ones in hand a bounded time to finish and be acked.
        using var drained = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        drained.CancelAfter(Settings.DrainTimeout);
        while (Volatile.Read(ref _inFlight) > 0 && !drained.IsCancellationRequested)
        {
            await Task.Delay(50, CancellationToken.None);
        }

        await _handlersStopping.CancelAsync();
        await base.StopAsync(cancellationToken);
        if (_channel is not null)
        {
            try
            {
                await _channel.CloseAsync(CancellationToken.None);
            }
            catch (Exception exception) when (exception is ObjectDisposedException or AlreadyClosedException)
            {
                // Already torn down by the client (seen when the Worker had started without its broker): nothing
                // is left to hand back, and a stop must not fail over it.
            }

            await _channel.DisposeAsync();
        }

        await OnStoppedAsync();
        var unfinished = Volatile.Read(ref _inFlight);
        LogStopped(logger, QueueName, unfinished);
    }

    /// <summary>Runs once, after the subscription has ended and the handlers have stopped.</summary>
    protected virtual Task OnStoppedAsync() => Task.CompletedTask;

    public override void Dispose()
    {
        _handlersStopping.Dispose();
        _switching.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Consuming {Queue}: {Concurrency} at once, prefetch {Prefetch}.")]
    private static partial void LogConsuming(ILogger logger, string queue, int concurrency, int prefetch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Paused consuming {Queue}: deliveries in hand finish, the rest wait in the queue.")]
    private static partial void LogPaused(ILogger logger, string queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot subscribe to {Queue} yet: {Reason}")]
    private static partial void LogSubscribeFailed(ILogger logger, string queue, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling message {MessageId} from {Queue} failed; it goes back to the queue.")]
    private static partial void LogHandlerFailed(ILogger logger, string queue, string? messageId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped consuming {Queue}; {Unfinished} deliveries left to the broker.")]
    private static partial void LogStopped(ILogger logger, string queue, int unfinished);
}
