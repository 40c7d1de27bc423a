using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Requests;

/// <summary>
/// Refuses an overlong request target (414), oversized or too many headers (431) and a declared oversized body (413)
/// at once, and caps a chunked body as Kestrel reads it (Kestrel then throws a 413 <see cref="BadHttpRequestException"/>,
/// which the problem contract turns into a problem). These are the documented limits; Kestrel's own
/// (<see cref="KestrelHardLimits"/>) sit well above them, so only absurd requests get Kestrel's bare answer.
/// </summary>
internal sealed class RequestLimitsMiddleware(RequestDelegate next, IOptions<RequestLimitsOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var limits = options.Value;
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw
            ? raw.Length
            : context.Request.PathBase.Value!.Length + context.Request.Path.Value!.Length + context.Request.QueryString.Value!.Length;
        if (target > limits.MaxRequestTargetBytes)
        {
            context.Response.Headers.Connection = "close";
            await ProblemDetailsContract.Problem(StatusCodes.Status414UriTooLong, ProblemCodes.UriTooLong,
                    "The request target is too long.", $"At most {limits.MaxRequestTargetBytes} bytes of path and query are accepted.")
                .ExecuteAsync(context);
            return;
        }

        var headerBytes = 0L;
        var headerCount = 0;
        foreach (var (name, values) in context.Request.Headers)
        {
            headerBytes += name.Length + values.ToString().Length;
            headerCount += Math.Max(1, values.Count);
        }

        if (headerBytes > limits.MaxHeaderBytes || headerCount > limits.MaxHeaderCount)
        {
            context.Response.Headers.Connection = "close";
            await ProblemDetailsContract.Problem(StatusCodes.Status431RequestHeaderFieldsTooLarge, ProblemCodes.HeadersTooLarge,
                    "The request headers are too large.",
                    $"At most {limits.MaxHeaderBytes} bytes of headers in at most {limits.MaxHeaderCount} fields are accepted.")
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
