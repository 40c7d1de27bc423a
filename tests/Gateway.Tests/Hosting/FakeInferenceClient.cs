using Gateway.Application;
using Gateway.Upstream;
using Gateway.Upstream.Inference;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Tests.Hosting;

/// <summary>
/// python-inference as a list of the requests it got: it serves <c>sentiment</c> and <c>iris</c>, answers 404
/// <c>model_not_found</c> for any other model, and fails every call with <see cref="Failure"/> when set.
/// </summary>
public sealed class FakeInferenceClient : IInferenceClient
{
    public List<PredictionRequest> Requests { get; } = [];

    public ProblemDetails? Failure { get; set; }

    /// <summary>When set, every prediction first awaits it (a slow python-inference), with the call's token.</summary>
    public Func<CancellationToken, Task>? Delay { get; set; }

    public async Task<Outcome<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken)
    {
        lock (Requests)
        {
            Requests.Add(request);
        }

        if (Delay is { } delay)
        {
            await delay(cancellationToken);
        }

        return Failure is { } problem
            ? Outcome.Failure<PredictionResponse>(problem)
            : request.Model is not ("sentiment" or "iris")
                ? Outcome.Failure<PredictionResponse>(UpstreamProblems.Of(404, "model_not_found", "Unknown model",
                    $"No model named '{request.Model}'."))
                : Outcome.Success(new PredictionResponse(request.Model!, "1.0.0",
                [.. request.Inputs!.Select(_ => new Prediction("positive", 0.75))]));
    }

    public Task<Outcome<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(Failure is { } problem
            ? Outcome.Failure<ModelCatalog>(problem)
            : Outcome.Success(new ModelCatalog([new ModelInfo("sentiment", "1.0.0", "text", ["negative", "positive"],
                0.84, 3000, 1286, new string('a', 64), "Sentiment of an English sentence.")])));
}
