using System.Diagnostics;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Worker.Messaging.Outbox;

namespace Worker.Messaging;

/// <summary>
/// Persistent, mandatory messages on one channel with publisher confirms: a <see cref="PublishAsync"/> that returns
/// means the broker has the message on disk and routed it to a queue. The channel is reopened after a broker
/// restart; a publish caught in the outage fails fast with <see cref="BrokerUnavailableException"/>.
/// </summary>
internal sealed class RabbitMqPublisher(IServiceProvider services, IOptions<MessagingOptions> options)
    : IMessagePublisher, IAsyncDisposable
{
    private readonly SemaphoreSlim _channelLock = new(1, 1);
    private IChannel? _channel;

    public async Task PublishAsync(OutboxMessage message, IReadOnlyDictionary<string, object?>? headers,
        CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout);
        // The message continues the trace of the request that caused it, even when published later by the relay (which
        // runs outside any trace): its publication is a child of the span that wrote it.
        var parent = Activity.Current is null ? MessagingTelemetry.CarriedContext(message.TraceParent) : default;
        using var publish = MessagingTelemetry.StartPublish(message.Exchange, message.RoutingKey, message.Id.ToString(),
            message.Body.Length, parent);
        try
        {
            var channel = await GetChannelAsync(timeout.Token);
            var messageHeaders = headers is null ? new Dictionary<string, object?>() : new Dictionary<string, object?>(headers);
            MessagingTelemetry.Inject(publish, messageHeaders);
            var properties = new BasicProperties
            {
                Persistent = true,
                MessageId = message.Id.ToString(),
                ContentType = "application/json",
                Type = message.Type,
                Timestamp = new AmqpTimestamp(message.CreatedAt.ToUnixTimeSeconds()),
                Headers = messageHeaders.Count == 0 ? null : messageHeaders,
            };
            await channel.BasicPublishAsync(message.Exchange, message.RoutingKey, mandatory: true, properties, message.Body,
                timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            publish?.SetStatus(ActivityStatusCode.Error, "not confirmed in time");
            throw new BrokerUnavailableException("The broker did not confirm the message in time.");
        }
        catch (PublishException exception) when (!exception.IsReturn)
        {
            throw new BrokerUnavailableException("The broker refused the message (its queue is full).", exception, refused: true);
        }
        catch (Exception exception) when (exception is PublishException or AlreadyClosedException
                                              or BrokerUnreachableException or OperationInterruptedException
                                              or ConnectFailureException)
        {
            publish?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
            throw new BrokerUnavailableException("The broker did not take the message.", exception);
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
                _channel = null;
            }

            // Resolved on first use, not at start-up, so the Worker starts and serves reads while the broker boots.
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
