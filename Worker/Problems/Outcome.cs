using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;

namespace Worker.Problems;

/// <summary>
/// What a use case answers: its value, or a problem (RFC 9457, with its <c>code</c>) that each face turns into its
/// protocol's error (an HTTP problem response, a gRPC status with the <c>problem-code</c> trailer).
/// </summary>
public sealed class Outcome<T>
{
    private Outcome(T? value, ProblemDetails? problem)
    {
        Value = value;
        Problem = problem;
    }

    public T? Value { get; }

    public ProblemDetails? Problem { get; }

    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Problem))]
    public bool Succeeded => Problem is null;

    public static implicit operator Outcome<T>(T value) => new(value, null);

    public static implicit operator Outcome<T>(ProblemDetails problem) => new(default, problem);
}

public static class Outcome
{
    /// <summary>A problem with the contract's members, for use cases that answer outside an endpoint.</summary>
    public static ProblemDetails Problem(int status, string code, string title, string? detail = null,
        IDictionary<string, string[]>? errors = null) =>
        ProblemDetailsContract.Create(status, code, title, detail, errors);

    /// <summary>The problem as an HTTP response (the contract fills traceId and instance when it is written).</summary>
    public static ProblemHttpResult ToProblemResult<T>(this Outcome<T> outcome) =>
        TypedResults.Problem(outcome.Problem ?? throw new InvalidOperationException("A successful outcome is not a problem."));
}
