using Gateway.Application;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Gateway.Apis;

/// <summary>An <see cref="Outcome{T}"/> as the REST answer: 200 with the value, or the problem with its status.</summary>
internal static class OutcomeResults
{
    public static Results<Ok<T>, ProblemHttpResult> ToOk<T>(this Outcome<T> outcome) =>
        outcome.Problem is { } problem ? TypedResults.Problem(problem) : TypedResults.Ok(outcome.Value!);
}
