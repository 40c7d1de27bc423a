using System.Diagnostics;

namespace Gateway.Upstream;

/// <summary>Which trace a call made for several callers at once joins.</summary>
internal static class BatchTracing
{
    /// <summary>
    /// The trace the batch call joins, so that sampling keeps or drops a trace whole: the first sampled caller's
    /// (the spans behind the call then land in a kept trace, never in one left out); when no caller is sampled, the
    /// first caller's, marked remote so that the call is still made under an unsampled span that tells the service
    /// behind "not sampled" instead of under no trace at all (which would start a new one there).
    /// </summary>
    public static ActivityContext ParentOf(IReadOnlyList<ActivityContext> callers)
    {
        foreach (var caller in callers)
        {
            if (caller.TraceFlags.HasFlag(ActivityTraceFlags.Recorded))
            {
                return caller;
            }
        }

        var first = callers.Count > 0 ? callers[0] : default;
        return first == default ? default
            : new ActivityContext(first.TraceId, first.SpanId, first.TraceFlags, first.TraceState, isRemote: true);
    }

    /// <summary>A caller's context as a W3C <c>traceparent</c>, or null outside any trace.</summary>
    public static string? TraceParentOf(ActivityContext context) =>
        context == default ? null : $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(byte)context.TraceFlags:x2}";
}
