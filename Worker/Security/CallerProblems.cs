using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Mvc;
using Microsoft.IdentityModel.Tokens;
using ServiceDefaults.Problems;

namespace Worker.Security;

/// <summary>
/// A refused caller gets the product's problem: 401 <c>authentication_required</c> or <c>invalid_token</c>, 403
/// <c>insufficient_scope</c>; over HTTP as problem+json, over gRPC as UNAUTHENTICATED or PERMISSION_DENIED with the
/// <c>problem-code</c> trailer (<see cref="GrpcProblems"/>).
/// </summary>
internal sealed class CallerProblems : IAuthorizationMiddlewareResultHandler
{
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy,
        PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            await next(context);
            return;
        }

        ProblemDetails problem;
        string challenge;
        if (authorizeResult.Forbidden)
        {
            var missing = authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<ClaimsAuthorizationRequirement>()
                .Where(requirement => requirement.ClaimType == Caller.ScopeClaim)
                .SelectMany(requirement => requirement.AllowedValues ?? []).ToArray() ?? [];
            var scopes = string.Join(' ', missing);
            problem = ProblemDetailsContract.Create(StatusCodes.Status403Forbidden, ProblemCodes.InsufficientScope,
                "The caller lacks a required scope.", $"This operation needs the scope '{scopes}'.");
            problem.Extensions["requiredScopes"] = missing;
            challenge = $"Bearer error=\"insufficient_scope\", scope=\"{scopes}\"";
        }
        else
        {
            // The handler caches its result for the request, so this does not validate the token again.
            var failure = (await context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme)).Failure;
            problem = failure is null
                ? ProblemDetailsContract.Create(StatusCodes.Status401Unauthorized, ProblemCodes.AuthenticationRequired,
                    "A service token is required.", "Send 'Authorization: Bearer <token>' signed by a known caller.")
                : ProblemDetailsContract.Create(StatusCodes.Status401Unauthorized, ProblemCodes.InvalidToken,
                    "The service token was rejected.", Reason(failure));
            challenge = failure is null ? "Bearer" : "Bearer error=\"invalid_token\"";
        }

        if (GrpcProblems.IsGrpcRequest(context))
        {
            await GrpcProblems.WriteStatusAsync(context, problem);
            return;
        }

        context.Response.StatusCode = problem.Status!.Value;
        context.Response.Headers.WWWAuthenticate = challenge;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }

    // Short and stable: the library's messages carry internals (key ids, times) a caller does not need.
    private static string Reason(Exception failure) => failure switch
    {
        SecurityTokenExpiredException => "The token has expired.",
        SecurityTokenNotYetValidException => "The token is not valid yet.",
        SecurityTokenInvalidAlgorithmException => "The token's signing algorithm is not accepted (HS256 only).",
        SecurityTokenInvalidIssuerException => "The token's issuer is not a known caller.",
        SecurityTokenInvalidAudienceException => "The token is not meant for this service.",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "The token's signature is not valid.",
        SecurityTokenNoExpirationException => "The token has no expiry ('exp').",
        AuthenticationFailureException => failure.Message, // our own words (CallerAuthenticationExtensions)
        _ when failure.GetType().Name.Contains("Signature", StringComparison.Ordinal) => "The token's signature is not valid.",
        _ => "The token is not valid.",
    };
}
