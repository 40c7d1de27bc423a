using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AppHost.Tests;

/// <summary>
/// The issuer the end-to-end tests play: a signing key made for this run, given to the gateway through the
/// same configuration keys <c>dotnet user-jwts</c> uses, and tokens signed with it.
/// </summary>
public sealed class Tokens
{
    public const string Issuer = "apphost-tests";
    public const string Audience = "http://localhost:8080";

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    /// <summary>Environment variables that make the gateway trust this issuer.</summary>
    public IEnumerable<KeyValuePair<string, string>> GatewaySettings =>
    [
        new("Authentication__Schemes__Bearer__ValidIssuer", Issuer),
        new("Authentication__Schemes__Bearer__ValidAudiences__0", Audience),
        new("Authentication__Schemes__Bearer__SigningKeys__0__Issuer", Issuer),
        new("Authentication__Schemes__Bearer__SigningKeys__0__Value", Convert.ToBase64String(_key)),
    ];

    /// <summary>The job owner the gateway makes of this issuer's token for <paramref name="subject"/> (issuer and subject).</summary>
    public static string OwnerOf(string subject) => $"{Uri.EscapeDataString(Issuer)}:{subject}";

    public string Create(string subject = "e2e-tests", string scopes = "predict jobs") =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Claims = new Dictionary<string, object> { ["sub"] = subject, ["scope"] = scopes },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(_key), SecurityAlgorithms.HmacSha256),
        });
}
