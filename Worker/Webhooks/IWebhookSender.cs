namespace Worker.Webhooks;

/// <summary>POSTs signed job results to the callback URLs their submitters gave.</summary>
public interface IWebhookSender
{
    /// <summary>
    /// Delivers <paramref name="delivery"/>, retrying passing failures with back-off; it returns once the receiver
    /// took it, the attempts are used up or the URL is refused. Only cancellation throws.
    /// </summary>
    Task<WebhookOutcome> DeliverAsync(WebhookDelivery delivery, CancellationToken cancellationToken);

    /// <summary>One attempt (the URL checked, then one signed request); retrying is the caller's. Only cancellation throws.</summary>
    Task<WebhookAttempt> AttemptAsync(WebhookDelivery delivery, CancellationToken cancellationToken);
}
