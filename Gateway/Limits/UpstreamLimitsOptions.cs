using System.ComponentModel.DataAnnotations;

namespace Gateway.Limits;

/// <summary>
/// How much of the services behind the gateway one gateway replica may use at once (section <c>UpstreamLimits</c>):
/// calls in flight, overall and per caller, and connections to each upstream.
/// </summary>
public sealed class UpstreamLimitsOptions
{
    public const string SectionName = "UpstreamLimits";

    /// <summary>
    /// Requests and JSON-RPC calls that may wait on an upstream at once; one more waits for a slot (up to
    /// <see cref="QueueWait"/>, among at most <see cref="QueueLimit"/> others) or is 503.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxConcurrentCalls { get; set; } = 256;

    /// <summary>
    /// Calls that may wait for one of the replica's slots of an upstream when all are taken; one more is 503 at once
    /// (0: none waits, a full pool refuses at once).
    /// </summary>
    [Range(0, 100_000)]
    public int QueueLimit { get; set; } = 1024;

    /// <summary>
    /// The longest a call waits for a slot before it is 503: long enough that a burst (the backlog of a
    /// half-second stall) is served as the calls ahead of it end, short enough that while an upstream is slow the
    /// refusals still come quickly and the waiting never reaches it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan QueueWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The same, per caller (issuer and subject), so one caller cannot take every slot.</summary>
    [Range(1, 100_000)]
    public int MaxConcurrentCallsPerCaller { get; set; } = 32;

    /// <summary>The <c>Retry-After</c> a refused call is told.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Connections each upstream client opens to one server (HTTP/1.1 and HTTP/2 alike).</summary>
    [Range(1, 10_000)]
    public int MaxConnectionsPerServer { get; set; } = 64;
}
