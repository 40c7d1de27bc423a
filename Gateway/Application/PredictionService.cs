using System.Text.Json;
using Gateway.Upstream.Inference;
using Microsoft.Extensions.Options;

namespace Gateway.Application;

/// <summary>Synchronous predictions and the model list: checks the batch, then asks python-inference.</summary>
public sealed class PredictionService(IInferenceClient inference, IOptions<InferenceOptions> options)
{
    /// <summary>The model a caller gets without naming one (<c>GET /predict</c>, JSON-RPC <c>predict</c>).</summary>
    public string DefaultModel => options.Value.DefaultModel;

    public async Task<Outcome<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        return ModelInputValidation.Validate(request.Model, request.Inputs, limits.MaxBatchSize, limits.MaxTextLength) is { } invalid
            ? invalid
            : await inference.PredictAsync(request, cancellationToken);
    }

    /// <summary>One text, classified by the default model.</summary>
    public async Task<Outcome<PredictionResponse>> PredictTextAsync(string? text, CancellationToken cancellationToken)
    {
        var limit = options.Value.MaxTextLength;
        if (string.IsNullOrWhiteSpace(text))
        {
            return ModelInputValidation.Invalid(new Dictionary<string, string[]> { ["text"] = ["Give the text to classify as ?text=..."] });
        }

        if (text.Length > limit)
        {
            return ModelInputValidation.Invalid(new Dictionary<string, string[]>
            {
                ["text"] = [$"At most {limit} characters are allowed; got {text.Length}."],
            });
        }

        return await inference.PredictAsync(new PredictionRequest(DefaultModel, [JsonSerializer.SerializeToElement(text)]),
            cancellationToken);
    }

    public Task<Outcome<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        inference.ListModelsAsync(cancellationToken);
}
