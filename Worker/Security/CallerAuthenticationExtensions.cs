using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ServiceDefaults.Security;

namespace Worker.Security;

public static class CallerAuthenticationExtensions
{
    /// <summary>
    /// Every caller authenticates with a short-lived JWT (HS256 only) signed with its own key (<see cref="CallerAuthOptions"/>):
    /// the issuer picks the key, so one caller's key cannot speak for another. The caller's scopes are those its token
    /// names and its configuration allows. An endpoint states its scope (<see cref="RequireScope{TBuilder}"/>); one that
    /// states none still needs an authenticated caller, unless it allows anonymous callers (the health checks).
    /// </summary>
    public static IHostApplicationBuilder AddCallerAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<CallerAuthOptions>(CallerAuthOptions.SectionName);
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<CallerAuthOptions>>((jwt, options) => Configure(jwt, options.Value));

        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireClaim(Caller.ServiceClaim).Build())
            .AddScopePolicies();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, CallerProblems>();
        return builder;
    }

    /// <summary>The endpoint (or group) needs a caller holding <paramref name="scope"/>.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(scope);

    private static AuthorizationBuilder AddScopePolicies(this AuthorizationBuilder authorization)
    {
        foreach (var scope in WorkerScopes.All)
        {
            authorization.AddPolicy(scope, policy => policy.RequireClaim(Caller.ServiceClaim).RequireClaim(Caller.ScopeClaim, scope));
        }

        return authorization;
    }

    private static void Configure(JwtBearerOptions jwt, CallerAuthOptions options)
    {
        // An optional caller without a key (the dashboard outside local runs) is not a caller at all.
        var keys = options.Callers.Where(caller => caller.Value.Enabled).ToDictionary(caller => caller.Key,
            caller => (SecurityKey)new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(caller.Value.SigningKey ?? "")),
            StringComparer.Ordinal);
        jwt.MapInboundClaims = false;
        // The gateway reuses a token for as long as it outlives a call: validate each once a minute, not per request.
        jwt.TokenHandlers.Clear();
        jwt.TokenHandlers.Add(new CachingJsonWebTokenHandler(TimeProvider.System));
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidIssuers = [.. keys.Keys],
            ValidAudience = options.Audience,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = options.ClockSkew,
            // The key is the one of the issuer the token names; no other key is tried.
            IssuerSigningKeyResolver = (_, token, _, _) =>
                token is JsonWebToken { Issuer: { } issuer } && keys.TryGetValue(issuer, out var key) ? [key] : [],
        };
        jwt.Events = new JwtBearerEvents
        {
            OnTokenValidated = context =>
            {
                if (Authenticate((JsonWebToken)context.SecurityToken, options) is { } failure)
                {
                    context.Fail(failure);
                }
                else
                {
                    context.Principal = PrincipalOf((JsonWebToken)context.SecurityToken, options);
                }

                return Task.CompletedTask;
            },
        };
    }

    /// <summary>Why a well-signed token of a known caller is still refused, or null.</summary>
    private static string? Authenticate(JsonWebToken token, CallerAuthOptions options)
    {
        var caller = options.Callers[token.Issuer];
        if (!token.TryGetPayloadValue<long>(JwtRegisteredClaimNames.Iat, out _))
        {
            return "The token has no issue time ('iat').";
        }

        if (token.ValidTo - token.IssuedAt > options.MaxTokenLifetime)
        {
            return $"The token lives longer than {options.MaxTokenLifetime.TotalSeconds:0} s.";
        }

        return caller.ActsForUsers && string.IsNullOrEmpty(token.Subject)
            ? "The token names no user ('sub'), and this caller acts for users."
            : null;
    }

    /// <summary>The caller, the user it acts for, and the scopes it holds: those its token names and it may hold.</summary>
    private static ClaimsPrincipal PrincipalOf(JsonWebToken token, CallerAuthOptions options)
    {
        var caller = options.Callers[token.Issuer];
        var named = token.Claims.Where(claim => claim.Type is "scope" or "scp")
            .SelectMany(claim => claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var claims = new List<Claim> { new(Caller.ServiceClaim, token.Issuer) };
        if (caller.ActsForUsers)
        {
            claims.Add(new Claim(Caller.UserClaim, token.Subject));
        }

        claims.AddRange(named.Intersect(caller.Scopes, StringComparer.Ordinal).Select(scope => new Claim(Caller.ScopeClaim, scope)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, JwtBearerDefaults.AuthenticationScheme, Caller.UserClaim, null));
    }
}
