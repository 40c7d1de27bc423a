using Microsoft.AspNetCore.Mvc;

namespace Gateway.Tests.Hosting;

/// <summary>Problems as <c>UpstreamCalls</c> hands them over from the services behind the gateway.</summary>
public static class UpstreamProblems
{
    public static ProblemDetails Of(int status, string code, string title, string? detail = null) => new()
    {
        Status = status,
        Title = title,
        Detail = detail,
        Type = $"urn:problem:{code}",
        Extensions = { ["code"] = code },
    };

    public static ProblemDetails ModelNotFound => Of(404, "model_not_found", "Unknown model", "No model named 'nope'.");

    public static ProblemDetails InferenceUnavailable => Of(503, "upstream_unavailable", "python-inference is unavailable. Try again shortly.");
}
