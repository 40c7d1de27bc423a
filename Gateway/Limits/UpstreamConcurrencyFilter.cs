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
            ? TypedResults.Problem(UpstreamConcurrency.Refused(callerIsFull, options.Value.RetryAfter))
            : await next(context);
    }
}

public static class UpstreamConcurrency
{
    /// <summary>
    /// The 503 <c>concurrency_limited</c> problem for a call that found no slot, with its <c>retryAfter</c> member
    /// (the <c>Retry-After</c> header over REST; JSON-RPC sends the same problem as a call's error).
    /// </summary>
    public static ProblemDetails Refused(bool callerIsFull, TimeSpan retryAfter)
    {
        var problem = ProblemDetailsContract.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.ConcurrencyLimited,
            "Too many calls in progress.").WithRetryAfter(retryAfter);
        var seconds = ProblemDetailsContract.RetryAfterOf(problem);
        problem.Detail = callerIsFull
            ? $"This caller already has as many calls in progress as it may; retry after {seconds} s."
            : $"The gateway has as many calls in progress as it takes; retry after {seconds} s.";
        return problem;
    }

    /// <summary>The endpoint holds an upstream slot while it runs, and documents the 503 that follows when none is free.</summary>
    public static RouteHandlerBuilder LimitsUpstreamConcurrency(this RouteHandlerBuilder endpoint) =>
        endpoint.AddEndpointFilter<UpstreamConcurrencyFilter>().ProducesProblem(StatusCodes.Status503ServiceUnavailable);
}
