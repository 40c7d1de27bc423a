using System.Text.Json;
using Gateway.Application;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using InferenceV1 = global::Inference.V1;

namespace Gateway.Upstream.Inference;

/// <summary>python-inference over gRPC (inference.v1.Inference): the same answers as <see cref="HttpInferenceClient"/>.</summary>
internal sealed class GrpcInferenceClient(
    InferenceV1.Inference.InferenceClient client, IOptions<InferenceOptions> options, InferenceCallMetrics metrics,
    ILogger<GrpcInferenceClient> logger, GrpcInferenceDownBreaker? down = null)
    : IInferenceClient
{
    private TimeSpan Deadline => options.Value.AttemptTimeout;

    public async Task<Outcome<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken)
    {
        using var call = metrics.Start(request.Model ?? "", "grpc");
        if (down is { IsDown: true })
        {
            var refused = Outcome.Failure<PredictionResponse>(DownProblem);
            call.FailedWith(refused.Problem);
            return refused;
        }

        var message = new InferenceV1.PredictBatchRequest { Model = request.Model ?? "" };
        message.Inputs.AddRange((request.Inputs ?? []).Select(InferenceV1.ModelInput.FromJson));
        var outcome = await GrpcUpstreamCalls.CallAsync(callOptions => client.PredictBatchAsync(message, callOptions),
            response => new PredictionResponse(response.Model, response.Version,
                [.. response.Predictions.Select(prediction => new Prediction(prediction.Label, prediction.Score))]),
            Deadline, HttpInferenceClient.ServiceName, logger, cancellationToken, down is null ? null : down.Observe, Retries);
        call.FailedWith(outcome.Problem);
        return outcome;
    }

    public Task<Outcome<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        down is { IsDown: true }
            ? Task.FromResult(Outcome.Failure<ModelCatalog>(DownProblem))
            : GrpcUpstreamCalls.CallAsync(callOptions => client.ListModelsAsync(new InferenceV1.ListModelsRequest(), callOptions),
            response => new ModelCatalog([.. response.Models.Select(model => new ModelInfo(model.Name, model.Version,
                model.InputKind, [.. model.Labels], model.HeldOutAccuracy, model.TrainSize, model.TestSize,
                model.ArtifactSha256, model.Description, model.FeatureCount > 0 ? model.FeatureCount : null))]),
            Deadline, HttpInferenceClient.ServiceName, logger, cancellationToken, down is null ? null : down.Observe, Retries);

    private GrpcRetries Retries { get; } = new(options.Value.MaxRetryAttempts, options.Value.RetryBaseDelay,
        Balanced: GrpcBalancing.IsBalanced(options.Value.GrpcAddress));

    /// <summary>What a prediction gets at once while python-inference is known to be down: the answer a refused call gets.</summary>
    private static ProblemDetails DownProblem => ProblemDetailsContract.UpstreamUnavailable(HttpInferenceClient.ServiceName);
}
