using System.Text.Json;
using Microsoft.AspNetCore.Mvc;

namespace Worker.Inference;

/// <summary>What a prediction call gave: a result, a refusal that retrying cannot change, or a passing outage.</summary>
public abstract record InferenceOutcome
{
    public sealed record Succeeded(JsonElement Response) : InferenceOutcome;

    public sealed record Rejected(ProblemDetails Problem) : InferenceOutcome;

    /// <summary>
    /// Another attempt may succeed. <paramref name="Unreachable"/>: python-inference could not be reached at all (nothing
    /// listens, or it is not ready): it is gone, not failing, and the job waits for its return without spending an attempt.
    /// </summary>
    public sealed record Unavailable(string Reason, bool Unreachable = false) : InferenceOutcome;
}

/// <summary>python-inference as the Worker sees it.</summary>
public interface IInferenceClient
{
    Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken);

    /// <summary>
    /// The outcome of each of several jobs' inputs for one model, in order. A client that can, makes it one call;
    /// either way one job's invalid input must not fail the others. By default, one call per job.
    /// </summary>
    async Task<IReadOnlyList<InferenceOutcome>> PredictManyAsync(string model, IReadOnlyList<JsonElement> inputs,
        CancellationToken cancellationToken)
    {
        var outcomes = new List<InferenceOutcome>(inputs.Count);
        foreach (var jobInputs in inputs)
        {
            outcomes.Add(await PredictAsync(model, jobInputs, cancellationToken));
        }

        return outcomes;
    }
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
