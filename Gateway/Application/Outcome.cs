using Microsoft.AspNetCore.Mvc;

namespace Gateway.Application;

/// <summary>
/// What a use case or an upstream call produced: a value, or the problem to show the client. REST and JSON-RPC
/// translate the same outcome, so the same failure reads the same through both.
/// </summary>
public sealed class Outcome<T>
{
    internal Outcome(T? value, ProblemDetails? problem) => (Value, Problem) = (value, problem);

    public T? Value { get; }

    public ProblemDetails? Problem { get; }

    /// <summary>The same failure, or the value changed by <paramref name="map"/>.</summary>
    public Outcome<TResult> Map<TResult>(Func<T, TResult> map) =>
        Problem is { } problem ? Outcome.Failure<TResult>(problem) : Outcome.Success(map(Value!));

    public static implicit operator Outcome<T>(ProblemDetails problem) => Outcome.Failure<T>(problem);
}

public static class Outcome
{
    public static Outcome<T> Success<T>(T value) => new(value, null);

    public static Outcome<T> Failure<T>(ProblemDetails problem) => new(default, problem);
}
