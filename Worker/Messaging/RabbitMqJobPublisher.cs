using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Worker.Jobs;

namespace Worker.Messaging;

/// <summary>
/// Publishes job messages as persistent, mandatory messages on a channel with publisher confirms: an
/// <see cref="PublishAsync"/> that returns means the broker has the message on disk.
/// </summary>
internal sealed class RabbitMqJobPublisher(IServiceProvider services, IOptions<JobsOptions> options)
    : IJobPublisher, IAsyncDisposable
{
    private readonly SemaphoreSlim _channelLock = new(1, 1);
    private IChannel? _channel;

    public async Task PublishAsync(Guid jobId, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout);
        try
        {
            var channel = await GetChannelAsync(timeout.Token);
            var properties = new BasicProperties
            {
                Persistent = true,
                MessageId = jobId.ToString(),
                ContentType = "application/json",
                Type = "job.submitted",
                Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
            };
            await channel.BasicPublishAsync(exchange: string.Empty, routingKey: options.Value.QueueName,
                mandatory: true, basicProperties: properties, body: new JobMessage(jobId).ToBytes(),
                cancellationToken: timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BrokerUnavailableException("The broker did not confirm the job in time.");
        }
        catch (Exception exception) when (exception is PublishException or AlreadyClosedException
                                              or BrokerUnreachableException or OperationInterruptedException)
        {
            throw new BrokerUnavailableException("The broker did not take the job.", exception);
        }
    }

    private async Task<IChannel> GetChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } open)
        {
            return open;
        }

        await _channelLock.WaitAsync(cancellationToken);
        try
        {
            if (_channel is { IsOpen: true } reopened)
            {
                return reopened;
            }

            if (_channel is not null)
            {
                await _channel.DisposeAsync();
            }

            // The connection (with automatic recovery) is created on first use, not at start-up, so the Worker
            // starts and reports its health even while the broker is still booting.
            var connection = services.GetRequiredService<IConnection>();
            _channel = await connection.CreateChannelAsync(new CreateChannelOptions(
                publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
            return _channel;
        }
        finally
        {
            _channelLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
        {
            await _channel.DisposeAsync();
        }

        _channelLock.Dispose();
    }
}
