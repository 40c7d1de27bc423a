using Gateway.Inference;
using Gateway.Upstream;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Tests.Rpc;

/// <summary>python-inference as a list of the requests it got; it fails every call with <see cref="Failure"/> when set.</summary>
internal sealed class FakeInferenceClient : IInferenceClient
{
    public List<PredictionRequest> Requests { get; } = [];

    public ProblemDetails? Failure { get; set; }

    public Task<UpstreamResult<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        return Task.FromResult(Failure is { } problem
            ? UpstreamResult.Failure<PredictionResponse>(problem)
            : UpstreamResult.Success(new PredictionResponse(request.Model!, "1.0.0",
                [.. request.Inputs!.Select(_ => new Prediction("positive", 0.75))])));
    }

    public Task<UpstreamResult<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(Failure is { } problem
            ? UpstreamResult.Failure<ModelCatalog>(problem)
            : UpstreamResult.Success(new ModelCatalog([new ModelInfo("sentiment", "1.0.0", "text", ["negative", "positive"],
                0.84, 3000, 1286, new string('a', 64), "Sentiment of an English sentence.")])));
}
