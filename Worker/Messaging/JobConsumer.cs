using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Jobs;

namespace Worker.Messaging;

/// <summary>
/// Consumes the <c>jobs</c> queue with manual acknowledgements: a delivery is acked only after its outcome is
/// recorded, so a Worker that dies mid-job leaves the message to be redelivered, and the store's conditional
/// transitions make the redelivery harmless.
/// </summary>
internal sealed partial class JobConsumer(
    IServiceProvider services, IOptions<JobsOptions> options, ILogger<JobConsumer> logger) : BackgroundService
{
    private IChannel? _channel;
    private string? _consumerTag;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var connection = services.GetRequiredService<IConnection>();
        _channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: false, publisherConfirmationTrackingEnabled: false,
                consumerDispatchConcurrency: settings.Concurrency), stoppingToken);
        await JobQueueTopology.DeclareAsync(_channel, settings.QueueName, stoppingToken);
        await _channel.BasicQosAsync(prefetchSize: 0, prefetchCount: settings.PrefetchCount, global: false, stoppingToken);

        var consumer = new AsyncEventingBasicConsumer(_channel);
        consumer.ReceivedAsync += (_, delivery) => HandleAsync(_channel, delivery, stoppingToken);
        _consumerTag = await _channel.BasicConsumeAsync(settings.QueueName, autoAck: false, consumer, stoppingToken);
        LogConsuming(logger, settings.QueueName, settings.Concurrency);
    }

    private async Task HandleAsync(IChannel channel, BasicDeliverEventArgs delivery, CancellationToken stoppingToken)
    {
        if (JobMessage.TryParse(delivery.Body) is not { } message)
        {
            LogUnreadableMessage(logger, delivery.BasicProperties.MessageId);
            await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: false, CancellationToken.None);
            return;
        }

        try
        {
            await using var scope = services.CreateAsyncScope();
            var processor = scope.ServiceProvider.GetRequiredService<JobProcessor>();
            var outcome = await processor.ProcessAsync(message.JobId, stoppingToken);
            if (outcome == JobProcessingOutcome.RetryLater)
            {
                await Task.Delay(options.Value.RetryDelay, stoppingToken);
                await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, CancellationToken.None);
                return;
            }

            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: leave the message unacked; the broker hands it to another consumer.
        }
        catch (Exception exception)
        {
            LogProcessingFailed(logger, message.JobId, exception);
            await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, CancellationToken.None);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } && _consumerTag is not null)
        {
            await _channel.BasicCancelAsync(_consumerTag, noWait: false, cancellationToken);
        }

        await base.StopAsync(cancellationToken);
        if (_channel is not null)
        {
            await _channel.CloseAsync(cancellationToken);
            await _channel.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Consuming queue {Queue} with {Concurrency} concurrent deliveries.")]
    private static partial void LogConsuming(ILogger logger, string queue, int concurrency);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dropped an unreadable job message (message id {MessageId}).")]
    private static partial void LogUnreadableMessage(ILogger logger, string? messageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Processing job {JobId} failed; the message goes back to the queue.")]
    private static partial void LogProcessingFailed(ILogger logger, Guid jobId, Exception exception);
}
