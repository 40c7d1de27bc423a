using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using ServiceDefaults.Problems;
using Worker.Events;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Notifications;

namespace Worker.Tests.Messaging;

/// <summary>
/// Which events reach which queue, on a real RabbitMQ (<see cref="LocalBroker"/>): a queue on the fanout gets every
/// event; the notifications queue, bound to <c>events.by-type</c>, gets only the outcomes of jobs with a callback URL
/// (and events without a routing key, as a build before routing keys publishes them). Each test uses exchanges and
/// queues of its own names.
/// </summary>
public sealed class EventRoutingTests(QueueLimitTests.Broker broker) : IClassFixture<QueueLimitTests.Broker>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static MessagingOptions Messaging() => new()
    {
        EventsExchange = $"events-{Guid.NewGuid():N}",
        EventsDeadLetterQueue = $"events-dead-{Guid.NewGuid():N}",
        PublishTimeout = TimeSpan.FromSeconds(10),
    };

    private static Job JobWith(string? callbackUrl) =>
        Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse("""["fine"]"""), DateTimeOffset.UtcNow,
            callbackUrl);

    [Fact]
    public async Task Only_the_outcomes_of_jobs_with_a_callback_reach_the_notifications_queue_while_a_fanout_queue_gets_every_event()
    {
        var messaging = Messaging();
        var (notifications, audit) = ($"notifications-{Guid.NewGuid():N}", $"audit-{Guid.NewGuid():N}");
        await DeclareAsync(messaging, notifications, NotificationsConsumer.Subscribed);
        await DeclareAsync(messaging, audit, routingKeys: null);
        var result = JsonElement.Parse("""{"version":"1.0.0","predictions":[{"label":"positive"}]}""");
        var problem = ProblemDetailsContract.Create(StatusCodes.Status422UnprocessableEntity, ProblemCodes.ValidationFailed,
            "Refused.", "The inputs were refused.");
        var now = DateTimeOffset.UtcNow;

        await using (var publisher = broker.Publisher(messaging))
        {
            await publisher.PublishAsync(JobEvents.Completed(JobWith(null), result, messaging, now), null, Token);
            await publisher.PublishAsync(JobEvents.Failed(JobWith(null), problem, messaging, now), null, Token);
            await publisher.PublishAsync(DomainEvent.Announce(DomainEvent.ModelActivated,
                new ModelActivatedData("sentiment", "2.0.0"), null, messaging, now), null, Token);
            await publisher.PublishAsync(JobEvents.Completed(JobWith("https://hooks.example/a"), result, messaging, now), null, Token);
            await publisher.PublishAsync(JobEvents.Failed(JobWith("https://hooks.example/b"), problem, messaging, now), null, Token);
        }

        await PublishWithoutRoutingKeyAsync(messaging);

        Assert.Equal(6u, await broker.MessageCountAsync(audit));
        Assert.Equal(["", "job.completed.callback", "job.failed.callback"],
            (await RoutingKeysInAsync(notifications, 3)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_queue_an_earlier_build_bound_to_the_fanout_is_moved_to_the_routed_exchange()
    {
        var messaging = Messaging();
        var notifications = $"notifications-{Guid.NewGuid():N}";
        await DeclareAsync(messaging, notifications, routingKeys: null);
        await DeclareAsync(messaging, notifications, NotificationsConsumer.Subscribed);
        // The publisher's messages are mandatory: an audit queue on the fanout takes every event, as the Worker's does.
        await DeclareAsync(messaging, $"audit-{Guid.NewGuid():N}", routingKeys: null);
        var result = JsonElement.Parse("""{"version":"1.0.0"}""");

        await using (var publisher = broker.Publisher(messaging))
        {
            await publisher.PublishAsync(JobEvents.Completed(JobWith(null), result, messaging, DateTimeOffset.UtcNow), null, Token);
            await publisher.PublishAsync(JobEvents.Completed(JobWith("https://hooks.example/a"), result, messaging,
                DateTimeOffset.UtcNow), null, Token);
        }

        Assert.Equal(["job.completed.callback"], await RoutingKeysInAsync(notifications, 1));
        Assert.Equal(0u, await broker.MessageCountAsync(notifications));
    }

    private async Task DeclareAsync(MessagingOptions messaging, string queue, IReadOnlyList<string>? routingKeys)
    {
        await using var channel = await broker.Connection.CreateChannelAsync(cancellationToken: Token);
        await MessagingTopology.DeclareEventQueueAsync(channel, messaging, queue, routingKeys, Token);
    }

    // As a build before routing keys published its events: to the fanout, with an empty routing key.
    private async Task PublishWithoutRoutingKeyAsync(MessagingOptions messaging)
    {
        await using var channel = await broker.Connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), Token);
        var message = DomainEvent.Announce(DomainEvent.JobCompleted, new JobCompletedData(Guid.CreateVersion7(), "alice", "sentiment"),
            null, messaging, DateTimeOffset.UtcNow);
        await channel.BasicPublishAsync(messaging.EventsExchange, string.Empty, mandatory: true,
            new BasicProperties { Persistent = true, Type = message.Type, MessageId = message.Id.ToString() }, message.Body, Token);
    }

    // Takes every message in the queue (expecting `count`), each one's routing key.
    private async Task<List<string>> RoutingKeysInAsync(string queue, int count)
    {
        await using var channel = await broker.Connection.CreateChannelAsync(cancellationToken: Token);
        var keys = new List<string>();
        while (await channel.BasicGetAsync(queue, autoAck: true, Token) is { } message)
        {
            keys.Add(message.RoutingKey);
        }

        Assert.Equal(count, keys.Count);
        return keys;
    }
}
