using System.ComponentModel.DataAnnotations;

namespace Gateway.Requests;

/// <summary>Section <c>RequestLimits</c>: what the gateway refuses before reading a request.</summary>
public sealed class RequestLimitsOptions
{
    public const string SectionName = "RequestLimits";

    /// <summary>Largest request body accepted; a bigger one is 413.</summary>
    [Range(1024, 100 * 1024 * 1024)]
    public long MaxBodyBytes { get; set; } = 1024 * 1024;
}
