namespace AppHost.Tests;

/// <summary>Where the end-to-end stack differs from a developer's: limits and delays sized for tests.</summary>
public static class TestSettings
{
    /// <summary>Retry back-off of a failed job attempt: short, so a poison job reaches jobs.dead within seconds.</summary>
    public static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800)];

    public const int MaxAttempts = 4;

    public static IEnumerable<KeyValuePair<string, string>> Gateway =>
    [
        // The durability tests submit a thousand jobs as one subject; the batching tests send a thousand predictions.
        new("RateLimiting__Policies__jobs__TokenLimit", "100000"),
        new("RateLimiting__Policies__jobs__TokensPerPeriod", "100000"),
        .. new[] { "predict", "batch", "rpc" }.SelectMany(policy => new KeyValuePair<string, string>[]
        {
            new($"RateLimiting__Policies__{policy}__TokenLimit", "100000"),
            new($"RateLimiting__Policies__{policy}__TokensPerPeriod", "100000"),
        }),
        // ... all at once, as one caller: more than the default upstream concurrency slots (32 per caller, 256 in all).
        new("UpstreamLimits__MaxConcurrentCallsPerCaller", "2000"),
        new("UpstreamLimits__MaxConcurrentCalls", "2000"),
    ];

    public static IEnumerable<KeyValuePair<string, string>> Worker =>
    [
        .. RetryDelays.Select((delay, i) => new KeyValuePair<string, string>($"Messaging__RetryDelays__{i}", delay.ToString("c"))),
        new("Messaging__MaxAttempts", MaxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        // Webhook retries in milliseconds, so a receiver that never answers 2xx is given up on quickly.
        new("Webhooks__BaseDelay", "00:00:00.050"),
        new("Webhooks__MaxDelay", "00:00:00.200"),
        new("Webhooks__MaxAttempts", "3"),
    ];
}
