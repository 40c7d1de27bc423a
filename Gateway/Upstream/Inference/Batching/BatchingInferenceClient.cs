using Gateway.Application;

namespace Gateway.Upstream.Inference.Batching;

/// <summary>
/// python-inference as the use cases see it: single-input predictions go through <see cref="PredictionBatcher"/>,
/// everything else straight to the transport (HTTP/JSON or gRPC).
/// </summary>
internal sealed class BatchingInferenceClient(IInferenceClient transport, PredictionBatcher batcher) : IInferenceClient
{
    public Task<Outcome<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken) =>
        batcher.Batches(request)
            ? batcher.PredictAsync(request.Model!, request.Inputs![0], cancellationToken)
            : transport.PredictAsync(request, cancellationToken);

    public Task<Outcome<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        transport.ListModelsAsync(cancellationToken);
}
