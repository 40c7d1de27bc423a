using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using InferenceV1 = global::Inference.V1;

namespace Worker.Inference;

/// <summary>
/// python-inference over gRPC. A job of any size is one PredictStream call (python-inference answers it in chunks),
/// and so is a batch of jobs for one model; the result has the same JSON shape as over HTTP: <c>{"model","version","predictions":[{"label","score"}]}</c>.
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
        request.Inputs.AddRange(InputsOf(inputs));
        return await StreamAsync(request, cancellationToken) switch
        {
            (null, var predicted) => Succeeded(predicted, 0, predicted.Predictions.Count),
            (var failure, _) => failure,
        };
    }

    /// <summary>
    /// Several jobs' inputs as one PredictStream call, the answer cut back into each job's predictions. If the model
    /// refuses the combined call (a job's input is invalid), each job is asked again alone, so only that job fails.
    /// </summary>
    public async Task<IReadOnlyList<InferenceOutcome>> PredictManyAsync(string model, IReadOnlyList<JsonElement> inputs,
        CancellationToken cancellationToken)
    {
        if (inputs.Count == 1)
        {
            return [await PredictAsync(model, inputs[0], cancellationToken)];
        }

        var request = new InferenceV1.PredictBatchRequest { Model = model };
        var counts = new int[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            var before = request.Inputs.Count;
            request.Inputs.AddRange(InputsOf(inputs[i]));
            counts[i] = request.Inputs.Count - before;
        }

        switch (await StreamAsync(request, cancellationToken))
        {
            case (null, var predicted):
                var outcomes = new InferenceOutcome[inputs.Count];
                for (int i = 0, offset = 0; i < inputs.Count; offset += counts[i], i++)
                {
                    outcomes[i] = Succeeded(predicted, offset, counts[i]);
                }

                return outcomes;

            case (InferenceOutcome.Rejected, _):
                var alone = new List<InferenceOutcome>(inputs.Count);
                foreach (var jobInputs in inputs)
                {
                    alone.Add(await PredictAsync(model, jobInputs, cancellationToken));
                }

                return alone;

            case (var failure, _):
                return [.. inputs.Select(_ => failure!)];
        }
    }

    private static IEnumerable<InferenceV1.ModelInput> InputsOf(JsonElement inputs) =>
        inputs.ValueKind == JsonValueKind.Array ? inputs.EnumerateArray().Select(InferenceV1.ModelInput.FromJson) : [];

    /// <summary>One PredictStream call: every prediction in order, or the outcome that replaces them.</summary>
    private async Task<(InferenceOutcome? Failure, Result Predicted)> StreamAsync(InferenceV1.PredictBatchRequest request,
        CancellationToken cancellationToken)
    {
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

            var predicted = new Result(name ?? request.Model, version ?? "", predictions);
            return predictions.Count == request.Inputs.Count
                ? (null, predicted)
                : (new InferenceOutcome.Unavailable(
                    $"python-inference answered {predictions.Count} predictions for {request.Inputs.Count} inputs."), predicted);
        }
        catch (RpcException exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The Worker is stopping.", exception, cancellationToken);
        }
        catch (RpcException exception)
        {
            return (Classify(exception), new Result(request.Model, "", []));
        }
    }

    private static InferenceOutcome.Succeeded Succeeded(Result predicted, int offset, int count) =>
        new(JsonSerializer.SerializeToElement(predicted with { Predictions = predicted.Predictions.Skip(offset).Take(count).ToList() }));

    /// <summary>
    /// What a gRPC status means for a job: INVALID_ARGUMENT and NOT_FOUND reject it with the problem the shared mapping
    /// (<see cref="GrpcProblems"/>) gives; any other status is an outage the job queue retries. UNAVAILABLE that
    /// python-inference did not answer itself (no connection), or its <c>not_ready</c> (starting), CANCELLED (the
    /// Worker did not cancel it: python-inference stopped mid-call) and any status the client made up from a broken
    /// stream (a stopping server resets its streams: INTERNAL) are an unreachable python-inference, which jobs wait out;
    /// any other problem it answers is an attempt.
    /// </summary>
    internal static InferenceOutcome Classify(RpcException exception) =>
        exception.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound
            ? new InferenceOutcome.Rejected(GrpcProblems.FromRpcException(exception, ServiceName))
            : new InferenceOutcome.Unavailable($"python-inference answered {exception.StatusCode}.",
                Unreachable: exception.StatusCode == StatusCode.Cancelled
                             || GrpcProblems.IsTransportFailure(exception)
                             || (exception.StatusCode == StatusCode.Unavailable
                                 && exception.Trailers.GetValue(GrpcProblems.ProblemCodeTrailer) is null or NotReady));

    private const string NotReady = "not_ready";

    // Property names as python-inference writes them over HTTP (the job result's documented shape).
    private sealed record Result(
        [property: System.Text.Json.Serialization.JsonPropertyName("model")] string Model,
        [property: System.Text.Json.Serialization.JsonPropertyName("version")] string Version,
        [property: System.Text.Json.Serialization.JsonPropertyName("predictions")] List<Prediction> Predictions);

    private sealed record Prediction(
        [property: System.Text.Json.Serialization.JsonPropertyName("label")] string Label,
        [property: System.Text.Json.Serialization.JsonPropertyName("score")] double Score);
}
