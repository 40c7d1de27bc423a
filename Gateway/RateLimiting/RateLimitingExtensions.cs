using System.Globalization;
using System.Threading.RateLimiting;
using Gateway.Security;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.RateLimiting;

public static class RateLimitingExtensions
{
    public static IHostApplicationBuilder AddGatewayRateLimiting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<RateLimitingOptions>(RateLimitingOptions.SectionName);
        builder.Services.AddSingleton<RateLimitMetrics>();

        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = WriteRejectionAsync;
            foreach (var name in RateLimitingOptions.PolicyNames)
            {
                limiter.AddPolicy(name, context =>
                {
                    var policy = context.RequestServices.GetRequiredService<IOptions<RateLimitingOptions>>().Value.Policies[name];
                    return RateLimitPartition.GetTokenBucketLimiter(PartitionKey(context), _ => policy.ToLimiterOptions());
                });
            }
        });
        return builder;
    }

    /// <summary>
    /// The token's subject when there is one (authentication runs before the limiter), else the client's address:
    /// one noisy client cannot spend another's allowance.
    /// </summary>
    internal static string PartitionKey(HttpContext context) =>
        Scopes.SubjectOf(context.User) is { } subject
            ? $"sub:{subject}"
            : $"ip:{context.Connection.RemoteIpAddress?.ToString() ?? "unknown"}";

    private static async ValueTask WriteRejectionAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        context.RequestServices.GetRequiredService<RateLimitMetrics>()
            .Rejected(context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName);
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = ProblemDetailsContract.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.RateLimited,
                "Too many requests.", $"The rate limit for this operation is used up; retry after {seconds} s."),
        });
    }
}
