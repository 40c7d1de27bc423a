using System.Globalization;
using RabbitMQ.Client;

namespace Worker.Messaging;

/// <summary>
/// Declares what the Worker owns on the broker. Declarations are idempotent, so every start (and every recovery
/// after a broker restart) repeats them:
/// <code>
/// jobs ──(nack, no requeue)──▶ jobs.dead ◀──(nack)── jobs.retries ◀──(TTL expires)── jobs.retry.&lt;delay&gt;
///  └─(failed attempt)──▶ jobs.retry.&lt;delay&gt;          (no length limit; consumed like jobs)
/// events (fanout) ──▶ events.audit (Worker), events.analytics (python-inference): every event
///  └──▶ events.by-type (topic, by routing key) ──▶ events.notifications (job.completed.callback, job.failed.callback),
///                                               events.models.&lt;replica&gt; (model.activated; python-inference)
/// </code>
/// </summary>
public static class MessagingTopology
{
    public const string AttemptHeader = "x-attempt";
    public const string LastErrorHeader = "x-last-error";

    public static string RetryQueueName(MessagingOptions options, TimeSpan delay) =>
        $"{options.JobsQueue}.retry.{(delay.TotalMilliseconds % 1000 == 0 ? $"{delay.TotalSeconds}s" : $"{delay.TotalMilliseconds}ms")}";

    /// <summary>
    /// Where a retry lands when its delay is over: <c>jobs.retries</c>, consumed like <c>jobs</c> and without a length
    /// limit. Dead-lettering has no publisher confirms, so a TTL queue that dead-lettered into the length-limited
    /// <c>jobs</c> would have its message dropped while <c>jobs</c> is full; this queue never refuses one. It holds
    /// only jobs already accepted (at most one message each), so the limit on <c>jobs</c> still bounds it.
    /// </summary>
    public static string DueRetriesQueueName(MessagingOptions options) => $"{options.JobsQueue}.retries";

    /// <summary>
    /// Declares jobs.dead, jobs (with its length limit unless <paramref name="jobsQueueExists"/>: then it is only
    /// checked, keeping the arguments it was created with), jobs.retries and the retry queues (those in
    /// <paramref name="outdatedRetryQueues"/> only checked: see <see cref="UpgradeRetryQueuesAsync"/>).
    /// </summary>
    public static async Task DeclareJobQueuesAsync(IChannel channel, MessagingOptions options, CancellationToken cancellationToken,
        bool jobsQueueExists = false, IReadOnlySet<string>? outdatedRetryQueues = null)
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

        await DeclareQueueAsync(channel, DueRetriesQueueName(options), new Dictionary<string, object?>
        {
            ["x-dead-letter-exchange"] = string.Empty,
            ["x-dead-letter-routing-key"] = options.DeadLetterQueue,
        }, cancellationToken);

        foreach (var delay in options.EffectiveRetryDelays.Distinct())
        {
            var queue = RetryQueueName(options, delay);
            if (outdatedRetryQueues?.Contains(queue) == true)
            {
                await channel.QueueDeclarePassiveAsync(queue, cancellationToken);
                continue;
            }

            // Nothing consumes a retry queue: its messages wait out the TTL, then dead-letter into jobs.retries.
            await DeclareQueueAsync(channel, queue, RetryQueueArguments(options, delay), cancellationToken);
        }
    }

    /// <summary>Only jobs.dead (what the operator API reads), leaving the other queues to the consumer's declaration.</summary>
    public static Task DeclareDeadJobsQueueAsync(IChannel channel, MessagingOptions options, CancellationToken cancellationToken) =>
        DeclareQueueAsync(channel, options.DeadLetterQueue, null, cancellationToken);

    public static Dictionary<string, object?> RetryQueueArguments(MessagingOptions options, TimeSpan delay) => new()
    {
        ["x-message-ttl"] = (long)delay.TotalMilliseconds,
        ["x-dead-letter-exchange"] = string.Empty,
        ["x-dead-letter-routing-key"] = DueRetriesQueueName(options),
    };

    /// <summary>
    /// Retry queues declared by a build before <c>jobs.retries</c> dead-letter into <c>jobs</c> (and arguments are
    /// fixed at creation): each such queue is deleted if it is empty, so the next declaration re-creates it with the
    /// new target. The names of those that still hold messages are returned: they are used as they are until they
    /// drain (their retries still go to <c>jobs</c>), and a later start upgrades them.
    /// </summary>
    public static async Task<IReadOnlySet<string>> UpgradeRetryQueuesAsync(IConnection connection, MessagingOptions options,
        CancellationToken cancellationToken)
    {
        var outdated = new HashSet<string>();
        foreach (var delay in options.EffectiveRetryDelays.Distinct())
        {
            var queue = RetryQueueName(options, delay);
            if (!await DeclarationRefusedAsync(connection, queue, RetryQueueArguments(options, delay), cancellationToken))
            {
                continue;
            }

            await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                await probe.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: true, cancellationToken: cancellationToken);
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException exception)
                when (exception.ShutdownReason?.ReplyCode == Constants.PreconditionFailed)
            {
                outdated.Add(queue); // not empty
            }
        }

        return outdated;
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
    public static Task<bool> JobsQueueDiffersAsync(IConnection connection, MessagingOptions options,
        CancellationToken cancellationToken) =>
        DeclarationRefusedAsync(connection, options.JobsQueue, JobsQueueArguments(options), cancellationToken);

    private static async Task<bool> DeclarationRefusedAsync(IConnection connection, string queue,
        IDictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await DeclareQueueAsync(probe, queue, arguments, cancellationToken);
            return false;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException exception)
            when (exception.ShutdownReason?.ReplyCode == Constants.PreconditionFailed)
        {
            return true;
        }
    }

    /// <summary>
    /// The topic exchange behind the events exchange (<c>events.by-type</c>): it receives every event, and a consumer
    /// that wants only some binds its queue here by routing key (an event's type, <c>DomainEvent.Announce</c>) instead
    /// of to the fanout, so the broker does not deliver it the rest.
    /// </summary>
    public static string EventsByTypeExchange(MessagingOptions options) => $"{options.EventsExchange}.by-type";

    /// <summary>The events fanout exchange and, bound to it, the topic exchange of <see cref="EventsByTypeExchange"/>.</summary>
    public static async Task DeclareEventsExchangeAsync(IChannel channel, MessagingOptions options, CancellationToken cancellationToken)
    {
        await channel.ExchangeDeclareAsync(options.EventsExchange, ExchangeType.Fanout, durable: true, autoDelete: false,
            cancellationToken: cancellationToken);
        await channel.ExchangeDeclareAsync(EventsByTypeExchange(options), ExchangeType.Topic, durable: true, autoDelete: false,
            cancellationToken: cancellationToken);
        await channel.ExchangeBindAsync(EventsByTypeExchange(options), options.EventsExchange, routingKey: string.Empty,
            cancellationToken: cancellationToken);
    }

    /// <summary>
    /// One consumer's own durable queue on the events exchange: bound to the fanout (every event) when
    /// <paramref name="routingKeys"/> is null, or else to <see cref="EventsByTypeExchange"/> by those keys and by the
    /// empty key, which an event published by a build before routing keys carries, so none is missed during an upgrade
    /// (and unbound from the fanout, where such a queue was before).
    /// </summary>
    public static async Task DeclareEventQueueAsync(IChannel channel, MessagingOptions options, string queue,
        IReadOnlyList<string>? routingKeys, CancellationToken cancellationToken)
    {
        await DeclareEventsExchangeAsync(channel, options, cancellationToken);
        await DeclareQueueAsync(channel, options.EventsDeadLetterQueue, null, cancellationToken);
        await DeclareQueueAsync(channel, queue, new Dictionary<string, object?>
        {
            ["x-dead-letter-exchange"] = string.Empty,
            ["x-dead-letter-routing-key"] = options.EventsDeadLetterQueue,
        }, cancellationToken);
        if (routingKeys is null)
        {
            await channel.QueueBindAsync(queue, options.EventsExchange, routingKey: string.Empty, cancellationToken: cancellationToken);
            return;
        }

        foreach (var key in routingKeys.Append(string.Empty).Distinct(StringComparer.Ordinal))
        {
            await channel.QueueBindAsync(queue, EventsByTypeExchange(options), key, cancellationToken: cancellationToken);
        }

        await channel.QueueUnbindAsync(queue, options.EventsExchange, routingKey: string.Empty, cancellationToken: cancellationToken);
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
