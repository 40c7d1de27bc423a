using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using ServiceDefaults.Problems;

namespace Gateway.Security;

/// <summary>
/// Outside Development, a request that carries a bearer token over plain HTTP is refused (400 <c>https_required</c>)
/// before the token is looked at: the token has crossed the network in clear and must not work (RFC 6750, section 5.3).
/// Requests without a token (health, the OpenAPI document) are unaffected.
/// </summary>
internal sealed class HttpsOnlyTokensMiddleware(RequestDelegate next, IOptions<GatewayAuthOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Headers.ContainsKey(HeaderNames.Authorization) || IsHttps(context.Request))
        {
            await next(context);
            return;
        }

        await ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.HttpsRequired,
                "Bearer tokens are accepted over HTTPS only.",
                "This request sent a token over plain HTTP; send it to the gateway's HTTPS address, and treat the token as exposed.")
            .ExecuteAsync(context);
    }

    private bool IsHttps(HttpRequest request) =>
        request.IsHttps
        || (options.Value.TrustForwardedProto
            && string.Equals(request.Headers["X-Forwarded-Proto"].ToString(), "https", StringComparison.OrdinalIgnoreCase));
}
