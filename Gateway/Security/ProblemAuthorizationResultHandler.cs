using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Gateway.Security;

/// <summary>A token without the endpoint's scope gets a 403 problem that names the scope it lacks.</summary>
internal sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden && context.User.Identity?.IsAuthenticated == true)
        {
            var missing = authorizeResult.AuthorizationFailure?.FailedRequirements
                .OfType<ScopeRequirement>().Select(requirement => requirement.Scope).ToArray() ?? [];
            return AuthProblems.WriteForbiddenAsync(context, missing);
        }

        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
