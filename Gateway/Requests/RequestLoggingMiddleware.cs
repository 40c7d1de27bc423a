using System.Diagnostics;
using Gateway.Security;
using ServiceDefaults.Problems;

namespace Gateway.Requests;

/// <summary>
/// One structured line per request (method, route template, status, latency, trace id, subject; never a token
/// or a body), and the trace id on every response so a client can quote it.
/// </summary>
/// <remarks>
/// A request whose trace was not kept (sampled out, or a probe, which is never traced) and that did not fail on our
/// side logs under <see cref="SampledOutCategory"/>. Every line is exported by default; with
/// <c>Logging:OpenTelemetry:LogLevel:Gateway.Requests.RequestLoggingMiddleware.SampledOut=None</c> the console still
/// has every line and the telemetry backend gets only the lines of the traces it keeps and of every 5xx, so its log
/// volume follows the sampling ratio (docs/operations.md, "Logs", says why that is not the default).
/// </remarks>
internal sealed partial class RequestLoggingMiddleware(RequestDelegate next, ILoggerFactory loggers)
{
    public const string TraceIdHeader = "X-Trace-Id";

    /// <summary>The category of the lines of requests whose trace was not kept and that did not fail with a 5xx.</summary>
    public const string SampledOutCategory = "Gateway.Requests.RequestLoggingMiddleware.SampledOut";

    private readonly ILogger _traced = loggers.CreateLogger<RequestLoggingMiddleware>();
    private readonly ILogger _sampledOut = loggers.CreateLogger(SampledOutCategory);

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
        // Activity.Current is the request's own span here (or the unrecorded one of a request not traced).
        var logger = Activity.Current is { Recorded: true } || status >= StatusCodes.Status500InternalServerError ? _traced : _sampledOut;
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
