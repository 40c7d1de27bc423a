using System.Collections.Concurrent;
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

    /// <summary>
    /// How long a token is valid: longer than a call with its retries (<see cref="WorkerCallOptions.TotalTimeout"/>),
    /// far shorter than the Worker's maximum. A token is reused for as long as it still outlives a whole call.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "00:05:00")]
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The tokens the gateway sends the Worker: HS256, issuer <c>gateway</c>, audience <c>worker</c>, the acting user as
/// <c>sub</c> and the one scope the call needs (the gateway checked the user's own scope at its edge). The user
/// travels only here, signed, never in the URL or body.
/// </summary>
/// <remarks>
/// A token is signed once per user and scope and reused while it stays valid for longer than a whole call may take
/// (<see cref="WorkerCallOptions.TotalTimeout"/>, retries included): with the defaults, a minute's token serves its
/// first 30 seconds. Signing one per call cost the gateway a JSON payload and an HMAC per request, and the Worker,
/// which remembers the tokens it validated, a full validation per request.
/// </remarks>
public sealed class WorkerTokens(IOptions<WorkerTokenOptions> options, IOptions<WorkerCallOptions> calls, TimeProvider clock)
{
    /// <summary>The most (user, scope) pairs remembered; beyond them the memory starts over.</summary>
    internal const int MaxRemembered = 10_000;

    private readonly JsonWebTokenHandler _handler = new();
    private readonly SigningCredentials _credentials =
        new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.Value.SigningKey)), SecurityAlgorithms.HmacSha256);
    private readonly ConcurrentDictionary<(string User, string Scope), Signed> _signed = new();

    /// <summary>
    /// A token acting for <paramref name="user"/> with <paramref name="scope"/>, valid for at least the longest call
    /// (a new one once the last one's remaining time would not cover a call).
    /// </summary>
    public string Create(string user, string scope)
    {
        var now = clock.GetUtcNow();
        if (_signed.TryGetValue((user, scope), out var signed) && now < signed.ReuseUntil)
        {
            return signed.Token;
        }

        var lifetime = options.Value.Lifetime;
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Issuer,
            Audience = options.Value.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + lifetime).UtcDateTime,
            Claims = new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = user, ["scope"] = scope },
            SigningCredentials = _credentials,
        });
        if (_signed.Count >= MaxRemembered)
        {
            _signed.Clear();
        }

        _signed[(user, scope)] = new Signed(token, now + lifetime - calls.Value.TotalTimeout);
        return token;
    }

    private sealed record Signed(string Token, DateTimeOffset ReuseUntil);

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
