using System.Globalization;
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

        await TypedResults.Problem(RateLimits.Refused(context, retryAfter)).ExecuteAsync(context);
    }
}

public static class RateLimits
{
    /// <summary>The 429 <c>rate_limited</c> problem, with <c>Retry-After</c> set on the response (JSON-RPC sends it as a call's error).</summary>
    public static ProblemDetails Refused(HttpContext httpContext, TimeSpan retryAfter) =>
        ProblemDetailsContract.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.RateLimited, "Too many requests.",
            $"The rate limit for this operation is used up; retry after {SetRetryAfter(httpContext, retryAfter)} s.");

    /// <summary>Sets <c>Retry-After</c> (whole seconds, at least 1) and returns the seconds.</summary>
    public static int SetRetryAfter(HttpContext httpContext, TimeSpan retryAfter)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return seconds;
    }
}
