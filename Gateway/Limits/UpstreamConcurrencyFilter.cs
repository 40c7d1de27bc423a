using Gateway.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Limits;

/// <summary>
/// A REST endpoint that calls <paramref name="upstream"/> holds a slot of <see cref="UpstreamConcurrencyLimiter"/>'s
/// pool for it while it runs.
/// </summary>
internal sealed class UpstreamConcurrencyFilter(UpstreamService upstream, UpstreamConcurrencyLimiter limiter,
    IOptions<UpstreamLimitsOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var (slot, callerIsFull) = await limiter.EnterAsync(upstream, RateLimitBudget.CallerKey(context.HttpContext),
            context.HttpContext.RequestAborted);
        using var held = slot;
        return slot is null
            ? TypedResults.Problem(UpstreamConcurrency.Refused(upstream, callerIsFull, options.Value.RetryAfter))
            : await next(context);
    }
}

public static class UpstreamConcurrency
{
    /// <summary>
    /// The 503 <c>concurrency_limited</c> problem for a call that found no slot, with its <c>retryAfter</c> member
    /// (the <c>Retry-After</c> header over REST; JSON-RPC sends the same problem as a call's error).
    /// </summary>
    public static ProblemDetails Refused(UpstreamService upstream, bool callerIsFull, TimeSpan retryAfter)
    {
        var problem = ProblemDetailsContract.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.ConcurrencyLimited,
            "Too many calls in progress.").WithRetryAfter(retryAfter);
        var seconds = ProblemDetailsContract.RetryAfterOf(problem);
        var service = NameOf(upstream);
        problem.Detail = callerIsFull
            ? $"This caller already has as many calls to {service} in progress as it may; retry after {seconds} s."
            : $"The gateway has as many calls to {service} in progress as it takes; retry after {seconds} s.";
        return problem;
    }

    /// <summary>
    /// The endpoint holds a slot of <paramref name="upstream"/>'s pool while it runs, and documents the 503 that follows
    /// when none is free.
    /// </summary>
    public static RouteHandlerBuilder LimitsUpstreamConcurrency(this RouteHandlerBuilder endpoint, UpstreamService upstream) =>
        endpoint.AddEndpointFilterFactory((context, next) =>
            {
                var services = context.ApplicationServices;
                var filter = new UpstreamConcurrencyFilter(upstream, services.GetRequiredService<UpstreamConcurrencyLimiter>(),
                    services.GetRequiredService<IOptions<UpstreamLimitsOptions>>());
                return invocation => filter.InvokeAsync(invocation, next);
            })
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static string NameOf(UpstreamService upstream) => upstream switch
    {
        UpstreamService.Inference => Gateway.Upstream.Inference.HttpInferenceClient.ServiceName,
        _ => "the Worker",
    };

}
