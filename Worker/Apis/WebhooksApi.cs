using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Worker.Security;
using Worker.Webhooks;

namespace Worker.Apis;

/// <summary>The key an owner's receivers verify its webhooks with (see <see cref="WebhookSigningKeys"/>).</summary>
public sealed record WebhookSigningKey(string Owner, string Key, string Algorithm, string SignatureVersion);

/// <summary>The Worker's internal webhook API: the key of the user the caller's token acts for (scope <c>jobs</c>).</summary>
public static class WebhooksApi
{
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/webhooks/signing-key", GetSigningKey)
            .WithTags("Webhooks")
            .WithName("WebhookSigningKey")
            .WithSummary("The owner's webhook signing key")
            .WithDescription("The acting user's key. HMAC-SHA256 keyed with the UTF-8 text of the key; it changes when the deployment secret does.")
            .RequireScope(WorkerScopes.Jobs);
        return app;
    }

    public static Ok<WebhookSigningKey> GetSigningKey(ClaimsPrincipal user, WebhookSigningKeys keys)
    {
        // The scope jobs is held only by callers acting for users (CallerAuthOptions), so there is a user.
        var owner = Caller.Of(user).User!;
        return TypedResults.Ok(new WebhookSigningKey(owner, keys.KeyFor(owner), "HMAC-SHA256", WebhookSignature.Version));
    }
}
