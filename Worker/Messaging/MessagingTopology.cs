using System.Globalization;
using RabbitMQ.Client;

namespace Worker.Messaging;

/// <summary>
/// Declares what the Worker owns on the broker. Declarations are idempotent, so every start (and every recovery
/// after a broker restart) repeats them:
/// <code>
/// jobs ──(nack, no requeue)──▶ jobs.dead
///   ▲  └─(failed attempt)──▶ jobs.retry.&lt;delay&gt; ──(TTL expires)──┘
/// events (fanout) ──▶ events.audit, events.notifications (Worker), events.analytics (python-inference)
/// </code>
/// </summary>
public static class MessagingTopology
{
    public const string AttemptHeader = "x-attempt";
    public const string LastErrorHeader = "x-last-error";

    public static string RetryQueueName(MessagingOptions options, TimeSpan delay) =>
        $"{options.JobsQueue}.retry.{(delay.TotalMilliseconds % 1000 == 0 ? $"{delay.TotalSeconds}s" : $"{delay.TotalMilliseconds}ms")}";

    /// <summary>
    /// Declares jobs.dead, jobs (with its length limit unless <paramref name="jobsQueueExists"/>: then it is only
    /// checked, keeping the arguments it was created with) and the retry queues.
    /// </summary>
    public static async Task DeclareJobQueuesAsync(IChannel channel, MessagingOptions options, CancellationToken cancellationToken,
        bool jobsQueueExists = false)
    {
        await DeclareQueueAsync(channel, options.DeadLetterQueue, null, cancellationToken);
        if (jobsQueueExists)
        {
            await channel.QueueDeclarePassiveAsync(options.JobsQueue, cancellationToken);
        }
        else
        {
            await DeclareQueueAsync(channel, options.JobsQueue, JobsQueueArguments(options), cancellationToken);
        }

        foreach (var delay in options.EffectiveRetryDelays.Distinct())
        {
            // Nothing consumes a retry queue: its messages wait out the TTL, then dead-letter back to jobs.
            await DeclareQueueAsync(channel, RetryQueueName(options, delay), new Dictionary<string, object?>
            {
                ["x-message-ttl"] = (long)delay.TotalMilliseconds,
                ["x-dead-letter-exchange"] = string.Empty,
                ["x-dead-letter-routing-key"] = options.JobsQueue,
            }, cancellationToken);
        }
    }

    /// <summary>
    /// The jobs queue's arguments: rejected messages (unreadable ones) dead-letter through the default exchange
    /// straight into jobs.dead; past <see cref="MessagingOptions.JobsQueueMaxLength"/> ready messages a publish is
    /// nacked (reject-publish), never an accepted job dropped from the head.
    /// </summary>
    public static Dictionary<string, object?> JobsQueueArguments(MessagingOptions options)
    {
        var arguments = new Dictionary<string, object?>
        {
            ["x-dead-letter-exchange"] = string.Empty,
            ["x-dead-letter-routing-key"] = options.DeadLetterQueue,
        };
        if (options.JobsQueueMaxLength > 0)
        {
            arguments["x-max-length"] = options.JobsQueueMaxLength;
            arguments["x-overflow"] = "reject-publish";
        }

        return arguments;
    }

    /// <summary>
    /// Whether the jobs queue exists with other arguments than this build declares (an upgrade from a build without
    /// the length limit, or a changed limit): the broker refuses such a declaration with 406 PRECONDITION_FAILED and
    /// closes the channel, so the check runs on a channel of its own.
    /// </summary>
    public static async Task<bool> JobsQueueDiffersAsync(IConnection connection, MessagingOptions options,
        CancellationToken cancellationToken)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await DeclareQueueAsync(probe, options.JobsQueue, JobsQueueArguments(options), cancellationToken);
            return false;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException exception)
            when (exception.ShutdownReason?.ReplyCode == Constants.PreconditionFailed)
        {
            return true;
        }
    }

    public static Task DeclareEventsExchangeAsync(IChannel channel, MessagingOptions options, CancellationToken cancellationToken) =>
        channel.ExchangeDeclareAsync(options.EventsExchange, ExchangeType.Fanout, durable: true, autoDelete: false,
            cancellationToken: cancellationToken);

    /// <summary>One consumer's own durable queue on the events exchange.</summary>
    public static async Task DeclareEventQueueAsync(IChannel channel, MessagingOptions options, string queue,
        CancellationToken cancellationToken)
    {
        await DeclareEventsExchangeAsync(channel, options, cancellationToken);
        await DeclareQueueAsync(channel, options.EventsDeadLetterQueue, null, cancellationToken);
        await DeclareQueueAsync(channel, queue, new Dictionary<string, object?>
        {
            ["x-dead-letter-exchange"] = string.Empty,
            ["x-dead-letter-routing-key"] = options.EventsDeadLetterQueue,
        }, cancellationToken);
        await channel.QueueBindAsync(queue, options.EventsExchange, routingKey: string.Empty, cancellationToken: cancellationToken);
    }

    /// <summary>A delay queue's name: <c>{queue}.retry.1s</c>, <c>{queue}.retry.50ms</c>.</summary>
    public static string DelayQueueName(string queue, TimeSpan delay) =>
        $"{queue}.retry.{(delay.TotalMilliseconds % 1000 == 0 ? $"{delay.TotalSeconds}s" : $"{delay.TotalMilliseconds}ms")}";

    /// <summary>
    /// The webhook deliveries: <c>webhooks</c> (unreadable messages to <c>webhooks.dead</c>) and one TTL queue per
    /// retry delay that dead-letters back to it, as the jobs queue does:
    /// <c>webhooks ──(failed attempt)──▶ webhooks.retry.&lt;delay&gt; ──(TTL)──▶ webhooks</c>.
    /// </summary>
    public static async Task DeclareWebhookQueuesAsync(IChannel channel, string queue, string deadLetterQueue,
        IEnumerable<TimeSpan> delays, CancellationToken cancellationToken)
    {
        await DeclareQueueAsync(channel, deadLetterQueue, null, cancellationToken);
        await DeclareQueueAsync(channel, queue, new Dictionary<string, object?>
        {
            ["x-dead-letter-exchange"] = string.Empty,
            ["x-dead-letter-routing-key"] = deadLetterQueue,
        }, cancellationToken);
        foreach (var delay in delays.Distinct())
        {
            await DeclareQueueAsync(channel, DelayQueueName(queue, delay), new Dictionary<string, object?>
            {
                ["x-message-ttl"] = (long)delay.TotalMilliseconds,
                ["x-dead-letter-exchange"] = string.Empty,
                ["x-dead-letter-routing-key"] = queue,
            }, cancellationToken);
        }
    }

    public static int AttemptOf(IReadOnlyBasicProperties properties) =>
        properties.Headers?.TryGetValue(AttemptHeader, out var value) == true
            ? value switch
            {
                int number => number,
                long number => (int)number,
                byte[] text when int.TryParse(System.Text.Encoding.UTF8.GetString(text), CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => 1,
            }
            : 1;

    private static Task<QueueDeclareOk> DeclareQueueAsync(IChannel channel, string queue, IDictionary<string, object?>? arguments,
        CancellationToken cancellationToken) =>
        channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: arguments,
            cancellationToken: cancellationToken);
}
