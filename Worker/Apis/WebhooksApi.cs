using Microsoft.AspNetCore.Http.HttpResults;
using ServiceDefaults.Problems;
using Worker.Webhooks;

namespace Worker.Apis;

/// <summary>The key an owner's receivers verify its webhooks with (see <see cref="WebhookSigningKeys"/>).</summary>
public sealed record WebhookSigningKey(string Owner, string Key, string Algorithm, string SignatureVersion);

/// <summary>The Worker's internal webhook API: owner-scoped like the job routes (the gateway passes the token's subject).</summary>
public static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/webhooks/signing-key", GetSigningKey)
            .WithTags("Webhooks")
            .WithName("WebhookSigningKey")
            .WithSummary("The owner's webhook signing key")
            .WithDescription("?owner= is required. HMAC-SHA256 keyed with the UTF-8 text of the key; it changes when the deployment secret does.");
        return app;
    }

    public static Results<Ok<WebhookSigningKey>, ProblemHttpResult> GetSigningKey(string? owner, WebhookSigningKeys keys) =>
        string.IsNullOrWhiteSpace(owner)
            ? ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: new Dictionary<string, string[]> { ["owner"] = ["The owner is required."] })
            : TypedResults.Ok(new WebhookSigningKey(owner, keys.KeyFor(owner), "HMAC-SHA256", WebhookSignature.Version));
}
