using System.Diagnostics;
using Gateway.Security;
using ServiceDefaults.Problems;

namespace Gateway.Requests;

/// <summary>
/// One structured line per request (method, route template, status, latency, trace id, subject; never a token
/// or a body), and the trace id on every response so a client can quote it.
/// </summary>
internal sealed partial class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger)
{
    public const string TraceIdHeader = "X-Trace-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var traceId = ProblemDetailsContract.TraceIdOf(context);
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[TraceIdHeader] = traceId;
            return Task.CompletedTask;
        });

        var status = StatusCodes.Status500InternalServerError;
        try
        {
            await next(context);
            status = context.Response.StatusCode;
        }
        finally
        {
            Log(context, status, started, traceId);
        }
    }

    private void Log(HttpContext context, int status, long started, string traceId)
    {
        if (!logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        // Route templates, not paths: ids and query strings stay out of the log and its cardinality stays low.
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)";
        var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var subject = Scopes.SubjectOf(context.User) ?? "-";
        LogRequest(logger, context.Request.Method, route, status, elapsedMs, traceId, subject);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "{Method} {Route} {Status} in {ElapsedMs:0.0} ms (trace {TraceId}, subject {Subject})")]
    private static partial void LogRequest(ILogger logger, string method, string route, int status, double elapsedMs,
        string traceId, string subject);
}
