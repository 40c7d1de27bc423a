using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Requests;

/// <summary>
/// Refuses oversized headers (431) and a declared oversized body (413) at once, and caps a chunked body as Kestrel
/// reads it (Kestrel then throws a 413 <see cref="BadHttpRequestException"/>, which the problem contract turns into a problem).
/// </summary>
internal sealed class RequestLimitsMiddleware(RequestDelegate next, IOptions<RequestLimitsOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var headerBytes = 0L;
        foreach (var (name, values) in context.Request.Headers)
        {
            headerBytes += name.Length + values.ToString().Length;
        }

        if (headerBytes > options.Value.MaxHeaderBytes)
        {
            context.Response.Headers.Connection = "close";
            await ProblemDetailsContract.Problem(StatusCodes.Status431RequestHeaderFieldsTooLarge, ProblemCodes.HeadersTooLarge,
                    "The request headers are too large.", $"At most {options.Value.MaxHeaderBytes} bytes of headers are accepted.")
                .ExecuteAsync(context);
            return;
        }

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
