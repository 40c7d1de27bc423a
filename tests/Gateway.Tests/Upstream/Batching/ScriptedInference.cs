using System.Collections.Concurrent;
using Gateway.Application;
using Gateway.Upstream.Inference;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Tests.Upstream.Batching;

/// <summary>
/// python-inference as the batcher's transport: records each call's inputs and, by default, answers every input
/// with its own text as the label, so a caller given a neighbour's answer shows. <see cref="Gate"/> holds calls.
/// </summary>
public sealed class ScriptedInference : IInferenceClient
{
    public ConcurrentQueue<string[]> Calls { get; } = new();

    /// <summary>Calls wait for this before answering (already open unless a test closes it).</summary>
    public TaskCompletionSource Gate { get; set; } = Open();

    /// <summary>Set once a call has started.</summary>
    public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The token of the last call.</summary>
    public CancellationToken LastToken { get; private set; }

    /// <summary>The problem a batch gets instead of predictions, if any.</summary>
    public Func<string[], ProblemDetails?> Refuse { get; set; } = _ => null;

    public async Task<Outcome<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken)
    {
        var inputs = request.Inputs!.Select(input => input.GetString()!).ToArray();
        Calls.Enqueue(inputs);
        LastToken = cancellationToken;
        Called.TrySetResult();
        await Gate.Task.WaitAsync(cancellationToken);
        return Refuse(inputs) is { } problem
            ? problem
            : Outcome.Success(new PredictionResponse(request.Model!, "1.0.0", [.. inputs.Select(input => new Prediction(input, 0.5))]));
    }

    public Task<Outcome<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(Outcome.Success(new ModelCatalog([])));

    public static TaskCompletionSource Closed() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource Open()
    {
        var gate = Closed();
        gate.SetResult();
        return gate;
    }
}
