using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using ServiceDefaults.Problems;

namespace Gateway.RateLimiting;

/// <summary>
/// Charges a request one token of the policy its endpoint names (<c>RequireRateLimiting</c>) from the shared
/// <see cref="RateLimitBudget"/>; an empty bucket is an immediate 429 problem with <c>Retry-After</c>.
/// </summary>
internal sealed class RateLimitMiddleware(RequestDelegate next, RateLimitBudget budget)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName is not { } policy
            || metadata.GetMetadata<DisableRateLimitingAttribute>() is not null
            || budget.TryCharge(context, policy) is not { } retryAfter)
        {
            await next(context);
            return;
        }

        await TypedResults.Problem(RateLimits.Refused(retryAfter)).ExecuteAsync(context);
    }
}

public static class RateLimits
{
    /// <summary>
    /// The 429 <c>rate_limited</c> problem with its <c>retryAfter</c> member, which the problem contract writes as the
    /// <c>Retry-After</c> header over REST and JSON-RPC as <c>data.retryAfter</c> (and the reply's header).
    /// </summary>
    public static ProblemDetails Refused(TimeSpan retryAfter)
    {
        var problem = ProblemDetailsContract.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.RateLimited,
            "Too many requests.").WithRetryAfter(retryAfter);
        problem.Detail = $"The rate limit for this operation is used up; retry after {ProblemDetailsContract.RetryAfterOf(problem)} s.";
        return problem;
    }
}
