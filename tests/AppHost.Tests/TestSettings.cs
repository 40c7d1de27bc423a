namespace AppHost.Tests;

/// <summary>Where the end-to-end stack differs from a developer's: limits and delays sized for tests.</summary>
public static class TestSettings
{
    /// <summary>Retry back-off of a failed job attempt: short, so a poison job reaches jobs.dead within seconds.</summary>
    public static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800)];

    public const int MaxAttempts = 4;

    /// <summary>A subject whose quota of unfinished jobs is 0: every submission is refused.</summary>
    public const string QuotaSuspendedSubject = "quota-suspended";

    /// <summary>A subject that may have 3 unfinished jobs.</summary>
    public const string QuotaOfThreeSubject = "quota-of-three";

    /// <summary>The gateway settings of every test stack.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Gateway =>
    [
        // The durability tests submit a thousand jobs as one subject.
        new("RateLimiting__Policies__jobs__TokenLimit", "100000"),
        new("RateLimiting__Policies__jobs__TokensPerPeriod", "100000"),
        // ... all at once, as one caller: more than the default upstream concurrency slots (32 per caller, 256 in all).
        new("UpstreamLimits__MaxConcurrentCallsPerCaller", "2000"),
        new("UpstreamLimits__MaxConcurrentCalls", "2000"),
    ];

    /// <summary>
    /// The prediction rate limits and time limits lifted (the batching tests send a thousand predictions as one
    /// caller); only the SQLite stack lifts them, so the PostgreSQL stack keeps the default budgets the rate-limit
    /// tests measure.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> LiftedPredictionLimits =>
    [
        .. new[] { "predict", "batch", "rpc" }.SelectMany(policy => new KeyValuePair<string, string>[]
        {
            new($"RateLimiting__Policies__{policy}__TokenLimit", "100000"),
            new($"RateLimiting__Policies__{policy}__TokensPerPeriod", "100000"),
        }),
        // A thousand predictions at once, beside the other suites on a loaded 2-core runner: callers may wait longer
        // than the default 5 s before a batch takes them, and the batching tests check answers, not shedding
        // (PredictionBatcherTests and the faults script do).
        new("Inference__Batching__MaxQueueWait", "00:00:30"),
        // ... and a batch call may take longer than the default 10 s: CI's runner once answered a batch of that burst
        // with 504 upstream_timeout through the gRPC gateway, whose one attempt is the whole deadline. A call lost
        // rather than slow still fails the test, 20 s later; the timeouts have their own tests (Gateway.Tests).
        new("Inference__AttemptTimeout", "00:00:20"),
        new("Inference__TotalTimeout", "00:00:35"),
    ];

    public static IEnumerable<KeyValuePair<string, string>> Worker =>
    [
        .. RetryDelays.Select((delay, i) => new KeyValuePair<string, string>($"Messaging__RetryDelays__{i}", delay.ToString("c"))),
        new("Messaging__MaxAttempts", MaxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        // The durability tests keep about a thousand jobs of one subject unfinished; the quota tests have subjects
        // with caps of their own.
        new("Jobs__MaxUnfinishedPerOwner", "100000"),
        // A job's owner is the caller as the gateway names it: "<issuer, URL-escaped>:<sub>".
        new("Jobs__OwnerQuotas__0__Owner", $"{Tokens.Issuer}:{QuotaSuspendedSubject}"),
        new("Jobs__OwnerQuotas__0__MaxUnfinished", "0"),
        new("Jobs__OwnerQuotas__1__Owner", $"{Tokens.Issuer}:{QuotaOfThreeSubject}"),
        new("Jobs__OwnerQuotas__1__MaxUnfinished", "3"),
        // Webhook retries in milliseconds, so a receiver that never answers 2xx is given up on quickly.
        new("Webhooks__BaseDelay", "00:00:00.050"),
        new("Webhooks__MaxDelay", "00:00:00.200"),
        new("Webhooks__MaxAttempts", "3"),
    ];
}
