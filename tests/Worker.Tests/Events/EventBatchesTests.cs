using Worker.Events;
using Worker.Jobs;

namespace Worker.Tests.Events;

/// <summary>How the events of one transaction become messages: one per type and routing key, an envelope array each.</summary>
public sealed class EventBatchesTests
{
    private static readonly JsonElement Result = JsonElement.Parse("""{"version":"1","predictions":[]}""");

    private static Job NewJob(string? callbackUrl = null) => Job.Queued(Guid.CreateVersion7(), "alice", "sentiment",
        JsonElement.Parse("""["great"]"""), DateTimeOffset.UtcNow, callbackUrl);

    private static string TraceOf(int i) => $"00-{i + 1:x32}-{i + 1:x16}-01";

    [Fact]
    public void Events_of_one_routing_key_share_a_message_that_carries_each_event_in_order_with_its_trace()
    {
        var events = Enumerable.Range(0, 5).Select(i => JobEvents.Completed(NewJob(), Result, TemporaryJobStore.Messaging,
            DateTimeOffset.UtcNow, TraceOf(i))).ToList();

        var message = Assert.Single(EventBatches.Combine(events, maxPerMessage: 100));

        var carried = DomainEvent.TryParseAll(message.Body)!;
        Assert.Equal(events.Select(e => e.Id), carried.Select(e => e.Id));
        Assert.Equal(Enumerable.Range(0, 5).Select(TraceOf), carried.Select(e => e.TraceParent));
        Assert.Equal((events[0].Id, events[0].TraceParent, "job.completed", "job.completed"),
            (message.Id, message.TraceParent, message.Type, message.RoutingKey));
        Assert.Null(message.JobId);
    }

    [Fact]
    public void Routing_keys_and_types_are_kept_apart_and_a_lone_event_stays_an_envelope()
    {
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = 422 };
        var completed = Enumerable.Range(0, 3).Select(_ => JobEvents.Completed(NewJob(), Result, TemporaryJobStore.Messaging,
            DateTimeOffset.UtcNow)).ToList();
        var withCallback = Enumerable.Range(0, 2).Select(_ => JobEvents.Completed(NewJob("https://example.com/hook"), Result,
            TemporaryJobStore.Messaging, DateTimeOffset.UtcNow)).ToList();
        var failed = JobEvents.Failed(NewJob(), problem, TemporaryJobStore.Messaging, DateTimeOffset.UtcNow);

        var messages = EventBatches.Combine([completed[0], withCallback[0], failed, completed[1], withCallback[1], completed[2]], 100);

        Assert.Equal(["job.completed", "job.completed.callback", "job.failed"], messages.Select(m => m.RoutingKey));
        Assert.Equal(completed.Select(e => e.Id), DomainEvent.TryParseAll(messages[0].Body)!.Select(e => e.Id));
        Assert.Equal(withCallback.Select(e => e.Id), DomainEvent.TryParseAll(messages[1].Body)!.Select(e => e.Id));
        Assert.Same(failed, messages[2]);
        Assert.Equal((byte)'{', messages[2].Body.Span[0]);
    }

    [Theory]
    [InlineData(1, new[] { 1, 1, 1, 1, 1 })]
    [InlineData(2, new[] { 2, 2, 1 })]
    [InlineData(5, new[] { 5 })]
    public void A_message_carries_at_most_the_configured_number_of_events(int maxPerMessage, int[] expected)
    {
        var events = Enumerable.Range(0, 5).Select(_ => JobEvents.Completed(NewJob(), Result, TemporaryJobStore.Messaging,
            DateTimeOffset.UtcNow)).ToList();

        var messages = EventBatches.Combine(events, maxPerMessage);

        Assert.Equal(expected, messages.Select(m => DomainEvent.TryParseAll(m.Body)!.Count));
        Assert.Equal(events.Select(e => e.Id), messages.SelectMany(m => DomainEvent.TryParseAll(m.Body)!).Select(e => e.Id));
    }
}
