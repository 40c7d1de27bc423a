namespace Gateway.RateLimiting;

public static class RateLimitingExtensions
{
    public static IHostApplicationBuilder AddGatewayRateLimiting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<RateLimitingOptions>(RateLimitingOptions.SectionName);
        builder.Services.AddSingleton<RateLimitMetrics>();
        builder.Services.AddSingleton<RateLimitBudget>();
        return builder;
    }

    /// <summary>The rate limits of <see cref="RateLimitMiddleware"/>; after authentication, so buckets are per caller.</summary>
    public static IApplicationBuilder UseGatewayRateLimits(this IApplicationBuilder app) => app.UseMiddleware<RateLimitMiddleware>();
}
