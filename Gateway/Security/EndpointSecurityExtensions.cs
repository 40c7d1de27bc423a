using Microsoft.AspNetCore.RateLimiting;

namespace Gateway.Security;

public static class EndpointSecurityExtensions
{
    /// <summary>
    /// A data endpoint: a bearer token with <paramref name="scope"/>, the <paramref name="rateLimitPolicy"/> bucket,
    /// and the 401/403/429 problems that follow from both in the OpenAPI document.
    /// </summary>
    public static RouteHandlerBuilder RequireScope(this RouteHandlerBuilder endpoint, string scope, string rateLimitPolicy) =>
        endpoint
            .RequireAuthorization(scope)
            .RequireRateLimiting(rateLimitPolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
}
