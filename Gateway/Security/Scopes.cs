using System.Security.Claims;

namespace Gateway.Security;

/// <summary>
/// The OAuth scopes the gateway knows; each is also the name of the authorization policy that requires it.
/// </summary>
public static class Scopes
{
    /// <summary>Synchronous predictions and the model list.</summary>
    public const string Predict = "predict";

    /// <summary>Submitting and reading asynchronous jobs.</summary>
    public const string Jobs = "jobs";

    /// <summary>Administrative APIs.</summary>
    public const string Admin = "admin";

    public static readonly IReadOnlyList<string> All = [Predict, Jobs, Admin];

    /// <summary>
    /// Identity providers write scopes as one space-separated <c>scope</c> string (RFC 8693), as a JSON array
    /// (<c>dotnet user-jwts</c>) or as <c>scp</c> (Entra ID); all three count.
    /// </summary>
    public static bool HasScope(this ClaimsPrincipal user, string scope) =>
        user.Claims
            .Where(claim => claim.Type is "scope" or "scp")
            .SelectMany(claim => claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Contains(scope, StringComparer.Ordinal);

    /// <summary>The token's subject (<c>sub</c>), as the issuer wrote it; unique only within that issuer.</summary>
    public static string? SubjectOf(ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true ? user.FindFirst("sub")?.Value : null;

    /// <summary>
    /// Who the caller is: the token's issuer and subject, <c>{escaped issuer}:{subject}</c>. Two trusted issuers may
    /// hand out the same subject to different people, so jobs and rate-limit partitions belong to this pair, never to
    /// <c>sub</c> alone. The issuer is URI-escaped, so the first ':' always ends it.
    /// </summary>
    public static string? CallerOf(ClaimsPrincipal user) =>
        SubjectOf(user) is { } subject && user.FindFirst("iss")?.Value is { Length: > 0 } issuer
            ? $"{Uri.EscapeDataString(issuer)}:{subject}"
            : null;
}
