namespace Chaos.Verdict;

/// <summary>
/// One request the load sent: when it started, how long it took, what came back (status 0: no answer at all), and for a
/// 5xx the problem's <c>detail</c> (one code can have several causes: 503 <c>concurrency_limited</c> is the gateway's
/// slots or the batch queue).
/// </summary>
public sealed record RequestSample(string Route, DateTimeOffset Started, TimeSpan Latency, int Status, string? Code, string? Detail = null)
{
    public bool Succeeded => Status is >= 200 and < 300;

    /// <summary>A 5xx, or no answer (connection refused, reset, the driver's own time limit).</summary>
    public bool IsServerFailure => Status is 0 or >= 500;
}

/// <summary>A span of time: [Start, End).</summary>
public readonly record struct TimeWindow(DateTimeOffset Start, DateTimeOffset End)
{
    public bool Contains(DateTimeOffset instant) => instant >= Start && instant < End;

    public TimeSpan Length => End - Start;
}

/// <summary>Routes the load uses, as the report names them.</summary>
public static class Routes
{
    public const string Predict = "predict";
    public const string SubmitJob = "submit-job";
    public const string ReadJob = "read-job";
}

/// <summary>One wait of a stall probe: when it began, how long it took, and whether it ended in an error (or timed out).</summary>
public sealed record ProbeSample(DateTimeOffset Started, TimeSpan Latency, bool Failed = false)
{
    /// <summary>Whether the wait was under way at some point of <paramref name="window"/>.</summary>
    public bool Overlaps(TimeWindow window) => Started < window.End && Started + Latency > window.Start;
}

/// <summary>A stall probe's waits, in the order taken, under the name the report gives it.</summary>
public sealed record ProbeSeries(string Name, IReadOnlyList<ProbeSample> Samples);
