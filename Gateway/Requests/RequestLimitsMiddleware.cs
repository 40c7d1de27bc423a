using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Requests;

/// <summary>
/// Refuses a declared oversized body at once with 413, and caps a chunked one as Kestrel reads it
/// (Kestrel then throws a 413 <see cref="BadHttpRequestException"/>, which the problem contract turns into a problem).
/// </summary>
internal sealed class RequestLimitsMiddleware(RequestDelegate next, IOptions<RequestLimitsOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var limit = options.Value.MaxBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            context.Response.Headers.Connection = "close"; // do not read the body just to throw it away
            await ProblemDetailsContract.Problem(StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge,
                "The request body is too large.", $"At most {limit} bytes are accepted; this request declares {context.Request.ContentLength}.")
                .ExecuteAsync(context);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = limit;
        }

        await next(context);
    }
}
