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

    /// <summary>
    /// A request that got no answer, with why: the exception's type as its code, and as its detail the messages down its
    /// inner exceptions (with HttpClient's kind of error), so a report tells a connection closed under a request from a
    /// refused one or the driver's own time limit. (A run of 2026-12-06 left one prediction unanswered with only
    /// "HttpRequestException" to show for it.)
    /// </summary>
    public static RequestSample NoAnswer(string route, DateTimeOffset started, TimeSpan latency, Exception exception)
    {
        var reasons = new List<string>();
        for (var current = exception; current is not null && reasons.Count < 4; current = current.InnerException)
        {
            var reason = current is HttpRequestException { HttpRequestError: not HttpRequestError.Unknown } http
                ? $"{current.Message} ({http.HttpRequestError})"
                : current.Message;
            if (reason.Length > 0 && !reasons.Contains(reason))
            {
                reasons.Add(reason);
            }
        }

        return new RequestSample(route, started, latency, 0, exception.GetType().Name, reasons.Count == 0 ? null : string.Join(" <- ", reasons));
    }
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
