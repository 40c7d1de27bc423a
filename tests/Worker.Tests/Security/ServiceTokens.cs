using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Worker.Tests.Security;

/// <summary>
/// The callers' side of the Worker's authentication, for tests: each caller's key, given to the Worker as the AppHost
/// gives it (<c>Auth:Callers:&lt;name&gt;:SigningKey</c>), and tokens signed as that caller would sign them.
/// </summary>
internal static class ServiceTokens
{
    public const string GatewayKey = "worker-tests-gateway-key-0123456789abcdef";
    public const string PythonKey = "worker-tests-python-key-0123456789abcdefg";
    public const string DashboardKey = "worker-tests-dashboard-key-0123456789abcd";

    /// <summary>The settings that give the Worker every caller's key (their scopes come from appsettings.json).</summary>
    public static IEnumerable<KeyValuePair<string, string>> WorkerSettings =>
    [
        new("Auth:Callers:gateway:SigningKey", GatewayKey),
        new("Auth:Callers:python-inference:SigningKey", PythonKey),
        new("Auth:Callers:dashboard:SigningKey", DashboardKey),
    ];

    /// <summary>A token of the gateway acting for <paramref name="user"/>.</summary>
    public static string Gateway(string user, string scope) => Create("gateway", GatewayKey, user, scope);

    /// <summary>A token of python-inference (it acts for itself).</summary>
    public static string Python(string scope = "registry.register registry.read") =>
        Create("python-inference", PythonKey, "python-inference", scope);

    /// <summary>A token of the AppHost's dashboard commands (it acts for itself).</summary>
    public static string Dashboard(string scope = "admin") => Create("dashboard", DashboardKey, "dashboard", scope);

    /// <summary>
    /// A JWT written out by hand (so a test can make any variant a caller might send): HS256 or HS512 over
    /// <paramref name="key"/>, with the registered claims given.
    /// </summary>
    public static string Create(string issuer, string key, string? subject, string scope, TimeSpan? lifetime = null,
        DateTimeOffset? issuedAt = null, string algorithm = "HS256", string audience = "worker", bool withIssuedAt = true)
    {
        var now = (issuedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var payload = new Dictionary<string, object?>
        {
            ["iss"] = issuer,
            ["aud"] = audience,
            ["sub"] = subject,
            ["scope"] = scope,
            ["nbf"] = now,
            ["exp"] = now + (long)(lifetime ?? TimeSpan.FromMinutes(1)).TotalSeconds,
        };
        if (withIssuedAt)
        {
            payload["iat"] = now;
        }

        var unsigned = Encode($$"""{"alg":"{{algorithm}}","typ":"JWT"}""") + "." +
                       Encode(System.Text.Json.JsonSerializer.Serialize(payload.Where(claim => claim.Value is not null)
                           .ToDictionary(claim => claim.Key, claim => claim.Value)));
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var signature = algorithm switch
        {
            "HS256" => System.Security.Cryptography.HMACSHA256.HashData(keyBytes, Encoding.ASCII.GetBytes(unsigned)),
            "HS512" => System.Security.Cryptography.HMACSHA512.HashData(keyBytes, Encoding.ASCII.GetBytes(unsigned)),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };
        return unsigned + "." + Base64UrlEncoder.Encode(signature);
    }

    private static string Encode(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));

    /// <summary>A token with no signature at all (<c>alg: none</c>).</summary>
    public static string Unsigned(string issuer, string? subject, string scope)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return Encode("""{"alg":"none","typ":"JWT"}""") + "." +
               Encode($$"""{"iss":"{{issuer}}","aud":"worker","sub":"{{subject}}","scope":"{{scope}}","iat":{{now}},"nbf":{{now}},"exp":{{now + 60}}}""") + ".";
    }
}
