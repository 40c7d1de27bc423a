using Gateway.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Limits;

/// <summary>A REST endpoint that calls an upstream holds a slot of <see cref="UpstreamConcurrencyLimiter"/> while it runs.</summary>
internal sealed class UpstreamConcurrencyFilter(UpstreamConcurrencyLimiter limiter, IOptions<UpstreamLimitsOptions> options)
    : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        using var slot = limiter.TryEnter(RateLimitBudget.CallerKey(context.HttpContext), out var callerIsFull);
        return slot is null
            ? TypedResults.Problem(UpstreamConcurrency.Refused(context.HttpContext, callerIsFull, options.Value.RetryAfter))
            : await next(context);
    }
}

public static class UpstreamConcurrency
{
    /// <summary>
    /// The 503 <c>concurrency_limited</c> problem for a call that found no slot, with <c>Retry-After</c> set on the
    /// response (JSON-RPC sends the same problem as a call's error).
    /// </summary>
    public static ProblemDetails Refused(HttpContext httpContext, bool callerIsFull, TimeSpan retryAfter)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var seconds = RateLimits.SetRetryAfter(httpContext, retryAfter);
        return ProblemDetailsContract.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.ConcurrencyLimited,
            "Too many calls in progress.", callerIsFull
                ? $"This caller already has as many calls in progress as it may; retry after {seconds} s."
                : $"The gateway has as many calls in progress as it takes; retry after {seconds} s.");
    }

    /// <summary>The endpoint holds an upstream slot while it runs, and documents the 503 that follows when none is free.</summary>
    public static RouteHandlerBuilder LimitsUpstreamConcurrency(this RouteHandlerBuilder endpoint) =>
        endpoint.AddEndpointFilter<UpstreamConcurrencyFilter>().ProducesProblem(StatusCodes.Status503ServiceUnavailable);
}
