using Gateway.Application;

namespace Gateway.Upstream.Inference;

/// <summary>python-inference as the gateway sees it.</summary>
public interface IInferenceClient
{
    Task<Outcome<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken);

    Task<Outcome<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken);
}
