using System.ComponentModel.DataAnnotations;

namespace Gateway.Limits;

/// <summary>
/// How much of the services behind the gateway one gateway replica may use at once (section <c>UpstreamLimits</c>):
/// calls in flight, overall and per caller, and connections to each upstream.
/// </summary>
public sealed class UpstreamLimitsOptions
{
    public const string SectionName = "UpstreamLimits";

    /// <summary>Requests and JSON-RPC calls that may wait on an upstream at once; one more is 503 at once.</summary>
    [Range(1, 100_000)]
    public int MaxConcurrentCalls { get; set; } = 256;

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
