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
