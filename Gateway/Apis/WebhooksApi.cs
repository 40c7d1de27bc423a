using System.Security.Claims;
using Gateway.Application;
using Gateway.Limits;
using Gateway.RateLimiting;
using Gateway.Security;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Gateway.Apis;

public static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/webhooks").WithTags("Webhooks");

        api.MapGet("/signing-key", GetSigningKeyAsync)
            .WithName("GetWebhookSigningKey")
            .WithSummary("The key the caller's job webhooks are signed with")
            .WithDescription("Webhooks for the token's subject are signed with HMAC-SHA256 keyed with the UTF-8 text of this " +
                             "key (see docs/messaging.md, Webhooks); another subject's key does not verify them. Scope: jobs.")
            .RequireScope(Scopes.Jobs, RateLimitingOptions.Jobs)
            .LimitsUpstreamConcurrency(UpstreamService.Worker)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    public static async Task<Results<Ok<WebhookSigningKey>, ProblemHttpResult>> GetSigningKeyAsync(
        ClaimsPrincipal user, JobService jobs, CancellationToken cancellationToken) =>
        (await jobs.GetWebhookSigningKeyAsync(user, cancellationToken)).ToOk();
}
