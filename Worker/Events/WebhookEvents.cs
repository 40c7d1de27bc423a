namespace Worker.Events;

/// <summary>The audit line <c>webhook.delivered</c>: the receiver took a job's outcome.</summary>
public sealed record WebhookDeliveredData(Guid JobId, int Attempts, int Status) : IEventData
{
    public static string EventType => DomainEvent.WebhookDelivered;
}

/// <summary>The audit line <c>webhook.failed</c>: the sender gave up, or the callback URL was refused (no attempt).</summary>
public sealed record WebhookFailedData(Guid JobId, int Attempts, string Reason) : IEventData
{
    public static string EventType => DomainEvent.WebhookFailed;
}
