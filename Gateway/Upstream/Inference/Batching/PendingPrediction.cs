using System.Diagnostics;
using System.Text.Json;
using Gateway.Application;

namespace Gateway.Upstream.Inference.Batching;

/// <summary>One caller waiting in a batch queue: its input, its own span, when it arrived, and its answer to come.</summary>
internal sealed class PendingPrediction(JsonElement input, Activity? span, long enqueuedAt)
{
    /// <summary>
    /// The caller's trace, and whether it is sampled: its span's context, or (a sampled-out trace records no span)
    /// the context of the caller's request, so the batch call can carry the decision on.
    /// </summary>
    public ActivityContext Trace { get; } = span?.Context ?? Activity.Current?.Context ?? default;

    private readonly TaskCompletionSource<Outcome<PredictionResponse>> _answer =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    public JsonElement Input { get; } = input;

    /// <summary>The caller's own span; the batch call's span is linked to it and it to the batch call's.</summary>
    public Activity? Span { get; } = span;

    /// <summary>A <see cref="TimeProvider"/> timestamp.</summary>
    public long EnqueuedAt { get; } = enqueuedAt;

    public Task<Outcome<PredictionResponse>> Answer => _answer.Task;

    /// <summary>Answered, or gone (its caller cancelled): either way nothing more is sent for it.</summary>
    public bool IsDone => _answer.Task.IsCompleted;

    public void Complete(Outcome<PredictionResponse> outcome) => _answer.TrySetResult(outcome);

    /// <summary>The caller went away: it stops waiting at once and is left out of any batch not yet sent.</summary>
    public void Abandon(CancellationToken cancellationToken) => _answer.TrySetCanceled(cancellationToken);
}
