using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Hosting;

/// <summary>Mints the tokens the tests send, signed with the key <see cref="GatewayFactory"/> configures.</summary>
public static class TestTokens
{
    public const string Issuer = "gateway-tests";
    public const string Audience = "gateway-tests-api";
    public static readonly string SigningKey = Convert.ToBase64String(Encoding.UTF8.GetBytes("gateway-tests-signing-key-0123456789abcdef"));

    public static string Create(
        string subject = "alice",
        string scopes = "predict jobs",
        string issuer = Issuer,
        string audience = Audience,
        string? signingKey = null,
        DateTime? notBefore = null,
        DateTime? expires = null,
        string algorithm = SecurityAlgorithms.HmacSha256)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["scope"] = scopes };
        if (subject.Length > 0)
        {
            claims["sub"] = subject;
        }

        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = notBefore ?? now,
            NotBefore = notBefore ?? now.AddSeconds(-1),
            Expires = expires ?? now.AddMinutes(10),
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Convert.FromBase64String(signingKey ?? SigningKey)), algorithm),
        });
    }

    /// <summary>The owner the gateway makes of a token from <paramref name="issuer"/> for <paramref name="subject"/>.</summary>
    public static string OwnerOf(string subject, string issuer = Issuer) => $"{Uri.EscapeDataString(issuer)}:{subject}";

    /// <summary>An unsigned token (<c>alg: none</c>) with otherwise valid claims.</summary>
    public static string CreateUnsigned(string subject = "alice", string scopes = "predict jobs")
    {
        var now = DateTimeOffset.UtcNow;
        var header = Base64Url("""{"alg":"none","typ":"JWT"}""");
        var payload = Base64Url($$"""
            {"sub":"{{subject}}","scope":"{{scopes}}","iss":"{{Issuer}}","aud":"{{Audience}}","nbf":{{now.AddSeconds(-1).ToUnixTimeSeconds()}},"exp":{{now.AddMinutes(10).ToUnixTimeSeconds()}}}
            """);
        return $"{header}.{payload}.";
    }

    private static string Base64Url(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json.Trim()));

    public static ClaimsPrincipal Principal(string subject, params string[] scopes) =>
        new(new ClaimsIdentity([new Claim("sub", subject), .. scopes.Select(scope => new Claim("scope", scope))], "test", "sub", null));
}
