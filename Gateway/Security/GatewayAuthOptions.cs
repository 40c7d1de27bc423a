using System.ComponentModel.DataAnnotations;

namespace Gateway.Security;

/// <summary>
/// Token checks the gateway adds to those of <c>Authentication:Schemes:Bearer</c> (issuer, audiences, signing keys
/// or an OIDC authority, read by the JwtBearer handler itself). Section <c>Auth</c>.
/// </summary>
public sealed class GatewayAuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>How far the gateway's clock and the issuer's may disagree on expiry and not-before.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
}
