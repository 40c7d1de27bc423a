using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;

namespace Gateway.Security;

/// <summary>
/// 401 and 403 as problem+json, keeping the RFC 6750 <c>WWW-Authenticate</c> header a client library expects.
/// </summary>
internal static class AuthProblems
{
    public static async Task WriteChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var tokenRejected = context.AuthenticateFailure is not null;
        var header = tokenRejected
            ? $"Bearer error=\"invalid_token\", error_description=\"{Quoted(context.ErrorDescription)}\""
            : "Bearer";
        await WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, header, tokenRejected
            ? ProblemDetailsContract.Create(StatusCodes.Status401Unauthorized, ProblemCodes.InvalidToken,
                "The bearer token was rejected.",
                context.ErrorDescription is { Length: > 0 } reason ? reason : "The token is not valid.")
            : ProblemDetailsContract.Create(StatusCodes.Status401Unauthorized, ProblemCodes.AuthenticationRequired,
                "A bearer token is required.", "Send 'Authorization: Bearer <token>'."));
    }

    public static Task WriteForbiddenAsync(HttpContext httpContext, IReadOnlyCollection<string> missingScopes)
    {
        var scopes = string.Join(' ', missingScopes);
        var problem = ProblemDetailsContract.Create(StatusCodes.Status403Forbidden, ProblemCodes.InsufficientScope,
            "The token lacks a required scope.", $"This operation needs the scope '{scopes}'.");
        problem.Extensions["requiredScopes"] = missingScopes;
        return WriteAsync(httpContext, StatusCodes.Status403Forbidden,
            $"Bearer error=\"insufficient_scope\", scope=\"{scopes}\"", problem);
    }

    private static async Task WriteAsync(HttpContext httpContext, int status, string challenge, ProblemDetails problem)
    {
        httpContext.Response.StatusCode = status;
        httpContext.Response.Headers.WWWAuthenticate = challenge;
        var problems = httpContext.RequestServices.GetRequiredService<IProblemDetailsService>();
        // A client that accepts no JSON still gets the status and the header, just no body.
        await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem });
    }

    private static string Quoted(string? text) => (text ?? string.Empty).Replace("\"", "'", StringComparison.Ordinal);
}
