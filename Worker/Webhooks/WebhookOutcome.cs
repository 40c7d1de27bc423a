namespace Worker.Webhooks;

/// <summary>How a delivery ended.</summary>
public abstract record WebhookOutcome
{
    private WebhookOutcome()
    {
    }

    /// <summary>The receiver answered 2xx.</summary>
    public sealed record Delivered(int Attempts, int StatusCode) : WebhookOutcome;

    /// <summary>Every attempt failed, or the receiver answered with a status that retrying cannot change.</summary>
    public sealed record GaveUp(int Attempts, string LastError) : WebhookOutcome;

    /// <summary>The URL, or an address its host resolved to when connecting, is not one callbacks may reach.</summary>
    public sealed record Refused(string Reason) : WebhookOutcome;
}

/// <summary>What one attempt came to: done, worth another try (after a delay the receiver may ask for), or final.</summary>
public abstract record WebhookAttempt
{
    private WebhookAttempt()
    {
    }

    public sealed record Succeeded(int StatusCode) : WebhookAttempt;

    public sealed record Retryable(string Error, TimeSpan? RetryAfter = null) : WebhookAttempt;

    public sealed record Failed(string Error) : WebhookAttempt;

    public sealed record Refused(string Reason) : WebhookAttempt;
}
