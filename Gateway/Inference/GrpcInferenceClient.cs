using System.Text.Json;
using Gateway.Upstream;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using InferenceV1 = global::Inference.V1;

namespace Gateway.Inference;

/// <summary>python-inference over gRPC (inference.v1.Inference): the same answers as <see cref="HttpInferenceClient"/>.</summary>
internal sealed class GrpcInferenceClient(
    InferenceV1.Inference.InferenceClient client, IOptions<InferenceOptions> options, ILogger<GrpcInferenceClient> logger)
    : IInferenceClient
{
    private TimeSpan Deadline => options.Value.AttemptTimeout;

    public Task<UpstreamResult<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken)
    {
        var message = new InferenceV1.PredictBatchRequest { Model = request.Model ?? "" };
        message.Inputs.AddRange((request.Inputs ?? []).Select(ToModelInput));
        return GrpcUpstreamCalls.CallAsync(callOptions => client.PredictBatchAsync(message, callOptions),
            response => new PredictionResponse(response.Model, response.Version,
                [.. response.Predictions.Select(prediction => new Prediction(prediction.Label, prediction.Score))]),
            Deadline, HttpInferenceClient.ServiceName, logger, cancellationToken);
    }

    public Task<UpstreamResult<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        GrpcUpstreamCalls.CallAsync(callOptions => client.ListModelsAsync(new InferenceV1.ListModelsRequest(), callOptions),
            response => new ModelCatalog([.. response.Models.Select(model => new ModelInfo(model.Name, model.Version,
                model.InputKind, [.. model.Labels], model.HeldOutAccuracy, model.TrainSize, model.TestSize,
                model.ArtifactSha256, model.Description))]),
            Deadline, HttpInferenceClient.ServiceName, logger, cancellationToken);

    /// <summary>
    /// Text and arrays of numbers are the two input kinds; any other JSON value travels as it is, so python-inference
    /// rejects it in the same words as over HTTP. A number too large for a double is infinite, as Python reads it.
    /// </summary>
    internal static InferenceV1.ModelInput ToModelInput(JsonElement input) => input.ValueKind switch
    {
        JsonValueKind.String => new InferenceV1.ModelInput { Text = input.GetString() },
        JsonValueKind.Array when input.EnumerateArray().All(item => item.ValueKind == JsonValueKind.Number) =>
            new InferenceV1.ModelInput { Features = new InferenceV1.Features { Values = { input.EnumerateArray().Select(ToDouble) } } },
        _ => new InferenceV1.ModelInput { Other = ToValue(input) },
    };

    private static Value ToValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => Value.ForString(element.GetString()),
        JsonValueKind.Number => Value.ForNumber(ToDouble(element)),
        JsonValueKind.True => Value.ForBool(true),
        JsonValueKind.False => Value.ForBool(false),
        JsonValueKind.Array => Value.ForList([.. element.EnumerateArray().Select(ToValue)]),
        JsonValueKind.Object => Value.ForStruct(ToStruct(element)),
        _ => Value.ForNull(),
    };

    private static Struct ToStruct(JsonElement element)
    {
        var result = new Struct();
        foreach (var property in element.EnumerateObject())
        {
            result.Fields[property.Name] = ToValue(property.Value);
        }

        return result;
    }

    private static double ToDouble(JsonElement number) =>
        number.TryGetDouble(out var value) ? value
        : number.GetRawText().StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
}
