using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace ServiceDefaults.Problems;

/// <summary>
/// Makes every error response of a C# service an RFC 9457 problem with <c>code</c>, <c>traceId</c> and
/// <c>instance</c>, whether it comes from our handlers, routing, body binding or an unhandled exception.
/// </summary>
public static class ProblemDetailsContract
{
    public static IServiceCollection AddProblemDetailsContract(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
            Complete(context.ProblemDetails, context.HttpContext));
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        // Body and parameter binding failures throw in every environment, so the client learns what was wrong
        // instead of getting an empty 400.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        return services;
    }

    /// <summary>Exception handler and status-code pages, both writing problem details.</summary>
    public static WebApplication UseProblemDetailsContract(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    /// <summary>Fills the members the contract requires and that a handler did not set itself.</summary>
    public static void Complete(ProblemDetails problem, HttpContext httpContext)
    {
        var status = problem.Status ?? httpContext.Response.StatusCode;
        problem.Status = status;
        if (problem.Extensions.TryGetValue("code", out var existing) is false || existing is null)
        {
            problem.Extensions["code"] = ProblemCodes.ForStatus(status);
        }

        var code = problem.Extensions["code"]?.ToString() ?? ProblemCodes.ForStatus(status);
        if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
        {
            problem.Type = ProblemCodes.TypeUri(code);
        }

        problem.Instance ??= httpContext.Request.Path;
        problem.Detail ??= DefaultDetail(status, httpContext.Request);
        problem.Extensions["traceId"] = TraceIdOf(httpContext);
        // A problem that says when to come back says it in the header too (and keeps saying it through the gateway).
        if (RetryAfterOf(problem) is { } retryAfter && !httpContext.Response.HasStarted)
        {
            httpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // The framework adds its own request id; the W3C trace id is the one correlation key we promise.
        problem.Extensions.Remove("requestId");
    }

    // Framework-made problems (routing, status-code pages) have no detail; the contract promises one.
    private static string DefaultDetail(int status, HttpRequest request) => status switch
    {
        StatusCodes.Status404NotFound => $"Nothing is served at {request.Path}.",
        StatusCodes.Status405MethodNotAllowed => $"{request.Method} is not allowed on {request.Path}.",
        _ => $"The request failed with status {status}.",
    };

    public static string TraceIdOf(HttpContext httpContext) =>
        Activity.Current?.TraceId.ToHexString() ?? httpContext.TraceIdentifier;

    /// <summary>A problem result with the contract's members; handlers use this rather than building their own.</summary>
    public static ProblemHttpResult Problem(int status, string code, string title, string? detail = null,
        IDictionary<string, string[]>? errors = null) =>
        TypedResults.Problem(Create(status, code, title, detail, errors));

    /// <summary>503 <c>upstream_unavailable</c>: <paramref name="service"/> could not be reached (or is known to be down).</summary>
    public static ProblemDetails UpstreamUnavailable(string service) =>
        Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.UpstreamUnavailable, $"{service} is unavailable. Try again shortly.");

    /// <summary>
    /// A problem with the contract's members (<c>type</c> from <paramref name="code"/>, <c>code</c>, <c>errors</c>), for
    /// code outside endpoints; <c>traceId</c> and <c>instance</c> are added when it is written. Without a
    /// <paramref name="detail"/>, per-field <paramref name="errors"/> name the fields to check.
    /// </summary>
    public static ProblemDetails Create(int status, string code, string title, string? detail = null,
        IDictionary<string, string[]>? errors = null)
    {
        if (detail is null && errors is { Count: > 0 })
        {
            detail = $"Check {(errors.Count == 1 ? "this field" : "these fields")}: {string.Join(", ", errors.Keys)}.";
        }

        var problem = new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Type = ProblemCodes.TypeUri(code),
            Extensions = { ["code"] = code },
        };
        if (errors is not null)
        {
            problem.Extensions["errors"] = errors;
        }

        return problem;
    }

    /// <summary>The problem member that carries the <c>Retry-After</c> seconds of a refusal to come back to.</summary>
    public const string RetryAfterMember = "retryAfter";

    /// <summary>Marks <paramref name="problem"/> as worth retrying after <paramref name="wait"/> (whole seconds, at least 1).</summary>
    public static ProblemDetails WithRetryAfter(this ProblemDetails problem, TimeSpan wait)
    {
        problem.Extensions[RetryAfterMember] = (int)Math.Max(1, Math.Ceiling(wait.TotalSeconds));
        return problem;
    }

    /// <summary>The problem's <c>retryAfter</c> seconds, whether set here or read from an upstream's JSON.</summary>
    public static int? RetryAfterOf(ProblemDetails problem) =>
        problem.Extensions.TryGetValue(RetryAfterMember, out var value) ? value switch
        {
            int seconds when seconds > 0 => seconds,
            long seconds when seconds > 0 => (int)Math.Min(seconds, int.MaxValue),
            System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Number } json
                when json.TryGetInt32(out var seconds) && seconds > 0 => seconds,
            _ => null,
        } : null;

    /// <summary>The problem's <c>code</c> member, or the code its status implies when it has none.</summary>
    public static string CodeOf(ProblemDetails problem) =>
        problem.Extensions.TryGetValue("code", out var value) && value?.ToString() is { Length: > 0 } code
            ? code
            : ProblemCodes.ForStatus(problem.Status ?? StatusCodes.Status500InternalServerError);
}
