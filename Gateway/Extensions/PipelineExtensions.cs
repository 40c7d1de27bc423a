using Gateway.RateLimiting;
using Gateway.Requests;
using Gateway.Security;
using Scalar.AspNetCore;
using ServiceDefaults.Problems;

namespace Gateway.Extensions;

public static class PipelineExtensions
{
    /// <summary>
    /// The edge, outermost first: request log and trace id, the problem contract, HSTS and HTTPS-only tokens outside
    /// Development, the overall deadline, header and body limits, then who the caller is, how much they may do
    /// (rate limits), and whether they may do this.
    /// </summary>
    public static WebApplication UseGatewayEdge(this WebApplication app)
    {
        app.UseMiddleware<RequestLoggingMiddleware>();
        app.UseProblemDetailsContract();
        if (!app.Environment.IsDevelopment())
        {
            app.UseHsts();
            app.UseMiddleware<HttpsOnlyTokensMiddleware>();
        }

        app.UseRequestTimeouts();
        app.UseMiddleware<RequestLimitsMiddleware>();
        app.UseAuthentication();
        app.UseGatewayRateLimits(); // after authentication, so buckets are per caller
        app.UseAuthorization();
        return app;
    }

    /// <summary>The OpenAPI document always; the Scalar reference UI in Development. Both anonymous.</summary>
    public static WebApplication MapApiDocumentation(this WebApplication app)
    {
        app.MapOpenApi().AllowAnonymous().RequireRateLimiting(RateLimiting.RateLimitingOptions.Anonymous);
        if (app.Environment.IsDevelopment())
        {
            app.MapScalarApiReference("/scalar", scalar => scalar.WithTitle("ML gateway API"))
                .AllowAnonymous().RequireRateLimiting(RateLimiting.RateLimitingOptions.Anonymous);
        }

        return app;
    }
}
