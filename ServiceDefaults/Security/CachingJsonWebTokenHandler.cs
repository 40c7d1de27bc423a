using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ServiceDefaults.Security;

/// <summary>
/// A <see cref="JsonWebTokenHandler"/> that remembers the tokens it found valid, so that a client sending the same
/// token with every request (as clients do until it expires) costs one full validation (parsing, signature, lifetime,
/// issuer, audience, claims), not one per request, as API gateways such as Envoy's JWT filter cache them. A token is
/// served from memory only while it is unexpired and for at most <see cref="MaxAge"/> after its validation, so a key the
/// issuer withdraws (or a configuration change of the parameters, which the handler does not compare) takes effect
/// within that time; an invalid token is never remembered. Each request gets its own copy of the identity, so nothing a
/// request adds to its principal reaches another.
/// </summary>
public sealed class CachingJsonWebTokenHandler(TimeProvider clock) : JsonWebTokenHandler
{
    /// <summary>How long a validation is reused at most, however long the token still runs.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    /// <summary>The most tokens remembered; beyond them the memory starts over.</summary>
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<string, Validated> _validated = new(StringComparer.Ordinal);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = clock.GetUtcNow();
        if (_validated.TryGetValue(token, out var validated))
        {
            if (now < validated.Until)
            {
                return validated.CopyForRequest();
            }

            _validated.TryRemove(new KeyValuePair<string, Validated>(token, validated));
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result is { IsValid: true, SecurityToken: JsonWebToken { ValidTo: var expires }, ClaimsIdentity: not null })
        {
            // ValidTo is DateTime.MinValue for a token without "exp", which parameters that require one refuse anyway.
            var until = new DateTimeOffset(DateTime.SpecifyKind(expires, DateTimeKind.Utc));
            if (until > now + MaxAge)
            {
                until = now + MaxAge;
            }

            if (until > now)
            {
                if (_validated.Count >= Capacity)
                {
                    _validated.Clear();
                }

                _validated[token] = new Validated(result, until);
            }
        }

        return result;
    }

    private sealed record Validated(TokenValidationResult Result, DateTimeOffset Until)
    {
        public TokenValidationResult CopyForRequest() => new()
        {
            IsValid = true,
            SecurityToken = Result.SecurityToken,
            ClaimsIdentity = Result.ClaimsIdentity.Clone(),
            Issuer = Result.Issuer,
            TokenType = Result.TokenType,
        };
    }
}
