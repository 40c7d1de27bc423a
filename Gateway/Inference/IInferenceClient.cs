using Gateway.Upstream;

namespace Gateway.Inference;

/// <summary>python-inference as the gateway sees it.</summary>
public interface IInferenceClient
{
    Task<UpstreamResult<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken);

    Task<UpstreamResult<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken);
}
