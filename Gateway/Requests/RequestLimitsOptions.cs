using System.ComponentModel.DataAnnotations;

namespace Gateway.Requests;

/// <summary>Section <c>RequestLimits</c>: what the gateway refuses before reading a request, and how long one may take.</summary>
public sealed class RequestLimitsOptions
{
    public const string SectionName = "RequestLimits";

    /// <summary>Largest request body accepted; a bigger one is 413.</summary>
    [Range(1024, 100 * 1024 * 1024)]
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Largest total of the request's header names and values; more is 431 <c>headers_too_large</c>. Kestrel's own
    /// limit (<see cref="KestrelHardLimits.MaxHeadersTotalBytes"/>) stays above it, past which Kestrel answers 431
    /// itself, without a body.
    /// </summary>
    [Range(1024, 32 * 1024)]
    public int MaxHeaderBytes { get; set; } = 16 * 1024;

    /// <summary>Most header fields a request may carry; more is 431 <c>headers_too_large</c> (Kestrel's own: 400).</summary>
    [Range(10, 200)]
    public int MaxHeaderCount { get; set; } = 100;

    /// <summary>
    /// Longest request target (path and query, as sent); longer is 414 <c>uri_too_long</c>. Kestrel's own limit on
    /// the whole request line (<see cref="KestrelHardLimits.MaxRequestLineBytes"/>) stays above it.
    /// </summary>
    [Range(1024, 16 * 1024)]
    public int MaxRequestTargetBytes { get; set; } = 8 * 1024;

    /// <summary>
    /// The longest any request may take, <c>/rpc</c> batches included; past it the request's work is cancelled and the
    /// answer is 504 <c>deadline_exceeded</c>. Longer than an upstream's total timeout, so an upstream that is merely
    /// slow is reported as such (504 <c>upstream_timeout</c>) by its client first.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(40);
}
