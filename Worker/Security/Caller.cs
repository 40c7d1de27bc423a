using System.Security.Claims;

namespace Worker.Security;

/// <summary>
/// Who is calling, as the Worker authenticated it: the service whose key signed the token and, when that service acts
/// for users, the user (the token's <c>sub</c>). Handlers take the owner of jobs from here, never from the request.
/// </summary>
public sealed record Caller(string Service, string? User)
{
    /// <summary>The claim that names the calling service (the token's issuer).</summary>
    public const string ServiceClaim = "caller";

    public const string UserClaim = "sub";

    public const string ScopeClaim = "scope";

    /// <summary>Who acted, for an audit log: the user the service acted for, or the service itself.</summary>
    public string Actor => User ?? Service;

    public static Caller Of(ClaimsPrincipal principal) =>
        principal.FindFirst(ServiceClaim)?.Value is { Length: > 0 } service
            ? new Caller(service, principal.FindFirst(UserClaim)?.Value)
            : throw new InvalidOperationException("The endpoint requires an authenticated caller.");
}
