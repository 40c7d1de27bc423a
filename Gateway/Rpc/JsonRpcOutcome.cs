using Gateway.Upstream;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Rpc;

/// <summary>What a method produced: a result to serialise, or the problem the same call would have over REST.</summary>
public sealed class JsonRpcOutcome
{
    private JsonRpcOutcome(object? result, ProblemDetails? problem) => (Result, Problem) = (result, problem);

    public object? Result { get; }

    public ProblemDetails? Problem { get; }

    public static JsonRpcOutcome Success(object? result) => new(result, null);

    public static JsonRpcOutcome Failure(ProblemDetails problem) => new(null, problem);

    public static JsonRpcOutcome From<T>(UpstreamResult<T> upstream) =>
        upstream.Problem is { } problem ? Failure(problem) : Success(upstream.Value);
}
