using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using InferenceV1 = global::Inference.V1;

namespace Worker.Inference;

/// <summary>
/// python-inference over gRPC. A job of any size is one PredictStream call (python-inference answers it in chunks);
/// the result has the same JSON shape as over HTTP: <c>{"model","version","predictions":[{"label","score"}]}</c>.
/// INVALID_ARGUMENT and NOT_FOUND are final (the job fails with the problem); every other status is worth retrying.
/// </summary>
internal sealed class GrpcInferenceClient(
    InferenceV1.Inference.InferenceClient client, IOptions<InferenceOptions> options, InferenceCallMetrics metrics)
    : IInferenceClient
{
    private const string ServiceName = "python-inference";

    public async Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
    {
        using var timing = metrics.Start(model, "grpc");
        var outcome = await CallAsync(model, inputs, cancellationToken);
        timing.FailedWith(outcome);
        return outcome;
    }

    private async Task<InferenceOutcome> CallAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
    {
        var request = new InferenceV1.PredictBatchRequest { Model = model };
        if (inputs.ValueKind == JsonValueKind.Array)
        {
            request.Inputs.AddRange(inputs.EnumerateArray().Select(InferenceV1.ModelInput.FromJson));
        }

        try
        {
            using var call = client.PredictStream(request,
                deadline: DateTime.UtcNow + options.Value.CallTimeout, cancellationToken: cancellationToken);
            string? name = null, version = null;
            var predictions = new List<Prediction>(request.Inputs.Count);
            await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                (name, version) = (chunk.Model, chunk.Version);
                predictions.AddRange(chunk.Predictions.Select(prediction => new Prediction(prediction.Label, prediction.Score)));
            }

            if (predictions.Count != request.Inputs.Count)
            {
                return new InferenceOutcome.Unavailable(
                    $"python-inference answered {predictions.Count} predictions for {request.Inputs.Count} inputs.");
            }

            return new InferenceOutcome.Succeeded(JsonSerializer.SerializeToElement(new Result(name ?? model, version ?? "", predictions)));
        }
        catch (RpcException exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The Worker is stopping.", exception, cancellationToken);
        }
        catch (RpcException exception)
        {
            return Classify(exception);
        }
    }

    /// <summary>
    /// What a gRPC status means for a job: INVALID_ARGUMENT and NOT_FOUND reject it with the problem the shared mapping
    /// (<see cref="GrpcProblems"/>) gives; any other status is an outage the job queue retries.
    /// </summary>
    internal static InferenceOutcome Classify(RpcException exception) =>
        exception.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound
            ? new InferenceOutcome.Rejected(GrpcProblems.FromRpcException(exception, ServiceName))
            : new InferenceOutcome.Unavailable($"python-inference answered {exception.StatusCode}.");

    // Property names as python-inference writes them over HTTP (the job result's documented shape).
    private sealed record Result(
        [property: System.Text.Json.Serialization.JsonPropertyName("model")] string Model,
        [property: System.Text.Json.Serialization.JsonPropertyName("version")] string Version,
        [property: System.Text.Json.Serialization.JsonPropertyName("predictions")] IReadOnlyList<Prediction> Predictions);

    private sealed record Prediction(
        [property: System.Text.Json.Serialization.JsonPropertyName("label")] string Label,
        [property: System.Text.Json.Serialization.JsonPropertyName("score")] double Score);
}
