using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using ServiceDefaults.Security;

namespace Gateway.Security;

public static class AuthenticationExtensions
{
    /// <summary>
    /// JWT bearer authentication configured from <c>Authentication:Schemes:Bearer</c> (what <c>dotnet user-jwts</c>
    /// writes in Development, an issuer/audience/keys or authority in Production), and one policy per scope.
    /// </summary>
    public static IHostApplicationBuilder AddGatewayAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<GatewayAuthOptions>(GatewayAuthOptions.SectionName);

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        // PostConfigure runs after the handler has read its configuration section, so these hold whatever it says.
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .PostConfigure<IOptions<GatewayAuthOptions>>((jwt, auth) =>
            {
                jwt.MapInboundClaims = false; // keep "sub" and "scope" as the token names them
                // A client sends the same token with every request until it expires: validate it once a minute, not per
                // request (ServiceDefaults.Security.CachingJsonWebTokenHandler).
                jwt.TokenHandlers.Clear();
                jwt.TokenHandlers.Add(new CachingJsonWebTokenHandler(TimeProvider.System));
                var validation = jwt.TokenValidationParameters;
                validation.NameClaimType = "sub";
                validation.ClockSkew = auth.Value.ClockSkew;
                // Without a configured issuer or audience the handler would skip those checks; we never do.
                validation.ValidateIssuer = true;
                validation.ValidateAudience = true;
                validation.ValidateLifetime = true;
                validation.RequireExpirationTime = true;
                validation.RequireSignedTokens = true;
                validation.ValidAlgorithms = auth.Value.ValidAlgorithms; // pinned: no other alg, whatever the token says
                // The configured keys are a lazy sequence that re-reads the configuration section and builds new key
                // objects (each hashed again for its cache id) on every validation, i.e. every request: read them once.
                validation.IssuerSigningKeys = validation.IssuerSigningKeys?.ToArray();
                jwt.Events = new JwtBearerEvents
                {
                    OnChallenge = AuthProblems.WriteChallengeAsync,
                    // Jobs and rate limits belong to the subject, so a token must name one.
                    OnTokenValidated = context =>
                    {
                        if (string.IsNullOrEmpty(context.Principal?.FindFirst("sub")?.Value))
                        {
                            context.Fail("The token has no subject ('sub' claim).");
                        }

                        return Task.CompletedTask;
                    },
                };
            });

        var authorization = builder.Services.AddAuthorizationBuilder();
        foreach (var scope in Scopes.All)
        {
            authorization.AddPolicy(scope, policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scope)));
        }

        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        return builder;
    }
}
