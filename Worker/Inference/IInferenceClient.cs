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
