using Worker.Messaging.Outbox;

namespace Worker.Events;

/// <summary>
/// The events one transaction records, in as few messages as consumers can still route: those of one type and routing
/// key share a message, whose body is the array of their envelopes (in order, at most <c>maxPerMessage</c>), its
/// <c>message-id</c> and <c>traceparent</c> header the first one's. A lone event stays a message of its own, its body
/// the envelope. At a thousand jobs a second a job batch records some ten outcomes at once, and each message costs the
/// broker a persistent write per queue and every consumer a delivery (docs/performance.md).
/// </summary>
internal static class EventBatches
{
    public static IReadOnlyList<OutboxMessage> Combine(IReadOnlyList<OutboxMessage> events, int maxPerMessage)
    {
        if (events.Count <= 1 || maxPerMessage <= 1)
        {
            return events;
        }

        var messages = new List<OutboxMessage>();
        foreach (var kind in events.GroupBy(message => (message.Exchange, message.RoutingKey, message.Type)))
        {
            foreach (var chunk in kind.Chunk(maxPerMessage))
            {
                messages.Add(chunk.Length == 1 ? chunk[0] : Batch(chunk));
            }
        }

        return messages;
    }

    private static OutboxMessage Batch(OutboxMessage[] events)
    {
        // Each body is one serialized envelope: the array is their bytes between brackets, comma-separated.
        var body = new byte[events.Sum(message => message.Body.Length) + events.Length + 1];
        body[0] = (byte)'[';
        var at = 1;
        foreach (var message in events)
        {
            message.Body.Span.CopyTo(body.AsSpan(at));
            at += message.Body.Length;
            body[at++] = (byte)',';
        }

        body[^1] = (byte)']';
        // No job of its own: a job's queue messages are deleted by job id, and none of this row's events may go with them.
        return events[0] with { Body = body, JobId = null };
    }
}
