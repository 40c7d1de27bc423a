using System.Text.Json;

namespace Gateway.Upstream.Inference;

/// <summary>A batch of inputs for one model: text strings for <c>sentiment</c>, arrays of numbers for <c>iris</c>.</summary>
public sealed record PredictionRequest(string? Model, IReadOnlyList<JsonElement>? Inputs);

public sealed record Prediction(string Label, double Score);

/// <summary>Predictions in input order, with the model version that produced them.</summary>
public sealed record PredictionResponse(string Model, string Version, IReadOnlyList<Prediction> Predictions);

public sealed record ModelInfo(
    string Name,
    string Version,
    string InputKind,
    IReadOnlyList<string> Labels,
    double HeldOutAccuracy,
    int TrainSize,
    int TestSize,
    string ArtifactSha256,
    string Description,
    int? FeatureCount = null); // how many numbers an input of a "features" model has; null for "text"

public sealed record ModelCatalog(IReadOnlyList<ModelInfo> Models);
