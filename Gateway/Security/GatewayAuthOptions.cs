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

    /// <summary>
    /// The only signature algorithms (JWS <c>alg</c>) a token may use: HS256 for <c>dotnet user-jwts</c> and the
    /// tests, RS256 for the usual OIDC issuer. A token signed any other way is refused even with a known key.
    /// </summary>
    [MinLength(1)]
    public string[] ValidAlgorithms { get; set; } = ["HS256", "RS256"];

    /// <summary>
    /// Outside Development a bearer token is accepted only over HTTPS. Behind a proxy that ends TLS (the Kubernetes
    /// Ingress) the connection is plain HTTP; with this set, <c>X-Forwarded-Proto: https</c> from the proxy counts as HTTPS.
    /// Only set it where nothing but the proxy can reach the gateway.
    /// </summary>
    public bool TrustForwardedProto { get; set; }
}
