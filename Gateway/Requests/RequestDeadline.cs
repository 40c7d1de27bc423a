using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Requests;

/// <summary>
/// The overall deadline of every request (<see cref="RequestLimitsOptions.Deadline"/>), through ASP.NET Core's request
/// timeouts: <c>RequestAborted</c> is cancelled when it passes, so every upstream call and every remaining JSON-RPC call
/// of a batch stops, and the answer is a 504 problem.
/// </summary>
public static class RequestDeadline
{
    public static IServiceCollection AddRequestDeadline(this IServiceCollection services)
    {
        services.AddRequestTimeouts();
        services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<RequestLimitsOptions>>((timeouts, limits) =>
            timeouts.DefaultPolicy = new RequestTimeoutPolicy
            {
                Timeout = limits.Value.Deadline,
                TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
                WriteTimeoutResponse = WriteAsync,
            });
        return services;
    }

    private static Task WriteAsync(HttpContext context)
    {
        var deadline = context.RequestServices.GetRequiredService<IOptions<RequestLimitsOptions>>().Value.Deadline;
        return ProblemDetailsContract.Problem(StatusCodes.Status504GatewayTimeout, ProblemCodes.DeadlineExceeded,
                "The request took too long.", $"Every request must be answered within {deadline.TotalSeconds:0.###} s; this one was cut off.")
            .ExecuteAsync(context);
    }
}
