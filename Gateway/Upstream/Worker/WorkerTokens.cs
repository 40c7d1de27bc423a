using System.ComponentModel.DataAnnotations;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Upstream.Worker;

/// <summary>How the gateway proves itself to the Worker (section <c>WorkerAuth</c>).</summary>
public sealed class WorkerTokenOptions
{
    public const string SectionName = "WorkerAuth";

    /// <summary>The gateway's own key (an AppHost secret parameter; the Worker holds the same under <c>Auth:Callers:gateway</c>).</summary>
    [Required]
    [MinLength(32)]
    public string SigningKey { get; set; } = "";

    /// <summary>The name the Worker knows the gateway by.</summary>
    [Required]
    public string Issuer { get; set; } = "gateway";

    [Required]
    public string Audience { get; set; } = "worker";

    /// <summary>One token per call, valid this long: longer than a call with its retries, far shorter than the Worker's maximum.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "00:05:00")]
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The tokens the gateway sends the Worker: HS256, issuer <c>gateway</c>, audience <c>worker</c>, the acting user as
/// <c>sub</c> and the one scope the call needs (the gateway checked the user's own scope at its edge). The user
/// travels only here, signed, never in the URL or body.
/// </summary>
public sealed class WorkerTokens(IOptions<WorkerTokenOptions> options, TimeProvider clock)
{
    private readonly JsonWebTokenHandler _handler = new();
    private readonly SigningCredentials _credentials =
        new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.Value.SigningKey)), SecurityAlgorithms.HmacSha256);

    /// <summary>A token for one call, acting for <paramref name="user"/> with <paramref name="scope"/>.</summary>
    public string Create(string user, string scope)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Issuer,
            Audience = options.Value.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + options.Value.Lifetime,
            Claims = new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = user, ["scope"] = scope },
            SigningCredentials = _credentials,
        });
    }

    /// <summary>The request, carrying a token for <paramref name="user"/> with <paramref name="scope"/>.</summary>
    public HttpRequestMessage Authorize(HttpRequestMessage request, string user, string scope)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Create(user, scope));
        return request;
    }
}

/// <summary>The scopes the Worker asks of the gateway's calls (the Worker's <c>WorkerScopes</c>).</summary>
internal static class WorkerScopes
{
    public const string Predict = "predict";
    public const string Jobs = "jobs";
    public const string Admin = "admin";
}
