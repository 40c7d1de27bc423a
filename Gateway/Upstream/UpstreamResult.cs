using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Upstream;

/// <summary>What a call to a service behind the gateway produced: a value, or the problem to show the client.</summary>
public sealed class UpstreamResult<T>
{
    internal UpstreamResult(T? value, ProblemDetails? problem) => (Value, Problem) = (value, problem);

    public T? Value { get; }

    public ProblemDetails? Problem { get; }

    public ProblemHttpResult ToProblemResult() =>
        TypedResults.Problem(Problem ?? throw new InvalidOperationException("The call succeeded."));
}

public static class UpstreamResult
{
    public static UpstreamResult<T> Success<T>(T value) => new(value, null);

    public static UpstreamResult<T> Failure<T>(ProblemDetails problem) => new(default, problem);
}
