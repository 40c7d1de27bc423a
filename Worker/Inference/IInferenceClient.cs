using System.Text.Json;
using Microsoft.AspNetCore.Mvc;

namespace Worker.Inference;

/// <summary>What a prediction call gave: a result, a refusal that retrying cannot change, or a passing outage.</summary>
public abstract record InferenceOutcome
{
    public sealed record Succeeded(JsonElement Response) : InferenceOutcome;

    public sealed record Rejected(ProblemDetails Problem) : InferenceOutcome;

    public sealed record Unavailable(string Reason) : InferenceOutcome;
}

/// <summary>python-inference as the Worker sees it.</summary>
public interface IInferenceClient
{
    Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken);
}

internal static class InferenceOutcomeMetrics
{
    /// <summary>Marks the timed call failed unless it succeeded: the problem's code, or <c>unavailable</c>.</summary>
    public static void FailedWith(this InferenceCallMetrics.TimedCall call, InferenceOutcome outcome)
    {
        switch (outcome)
        {
            case InferenceOutcome.Rejected rejected:
                call.FailedWith(rejected.Problem);
                break;
            case InferenceOutcome.Unavailable:
                call.Failed("unavailable");
                break;
        }
    }
}
