using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Worker.Inference;

/// <summary>
/// In front of python-inference's transport: when python-inference cannot be reached at all, a batch of jobs waits for
/// its return (calling again every <see cref="InferenceOptions.UnreachableProbeInterval"/>, for at most
/// <see cref="InferenceOptions.UnreachableWait"/>) instead of spending an attempt on the retry schedule, so jobs
/// accepted during a short outage complete within moments of its end. Their deliveries stay unacknowledged meanwhile
/// (a Worker that dies hands them back). When the Worker stops, or the wait is over, the outcome goes back as it is
/// and the job queue's retries take over. A slow or failing python-inference is not waited for: that is an attempt.
/// </summary>
internal sealed partial class OutageWaitingInferenceClient(
    IInferenceClient transport, IOptions<InferenceOptions> options, TimeProvider clock,
    ILogger<OutageWaitingInferenceClient> logger, CancellationToken stopping) : IInferenceClient
{
    public async Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken) =>
        (await WaitOutAsync(model, 1, async token => [await transport.PredictAsync(model, inputs, token)], cancellationToken))[0];

    public Task<IReadOnlyList<InferenceOutcome>> PredictManyAsync(string model, IReadOnlyList<JsonElement> inputs,
        CancellationToken cancellationToken) =>
        WaitOutAsync(model, inputs.Count, token => transport.PredictManyAsync(model, inputs, token), cancellationToken);

    private async Task<IReadOnlyList<InferenceOutcome>> WaitOutAsync(string model, int jobs,
        Func<CancellationToken, Task<IReadOnlyList<InferenceOutcome>>> call, CancellationToken cancellationToken)
    {
        var outcomes = await call(cancellationToken);
        var (wait, interval) = (options.Value.UnreachableWait, options.Value.UnreachableProbeInterval);
        if (!Unreachable(outcomes) || wait <= TimeSpan.Zero || stopping.IsCancellationRequested)
        {
            return outcomes;
        }

        var since = clock.GetTimestamp();
        LogWaiting(logger, jobs, model, wait, ((InferenceOutcome.Unavailable)outcomes[0]).Reason);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        while (Unreachable(outcomes) && clock.GetElapsedTime(since) + interval <= wait)
        {
            try
            {
                await Task.Delay(interval, clock, waiting.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return outcomes; // the Worker is stopping: this attempt fails and the job's retry is queued
            }

            outcomes = await call(cancellationToken);
        }

        var waited = clock.GetElapsedTime(since);
        if (Unreachable(outcomes))
        {
            LogGaveUp(logger, jobs, model, waited);
        }
        else
        {
            LogBack(logger, jobs, model, waited);
        }

        return outcomes;
    }

    private static bool Unreachable(IReadOnlyList<InferenceOutcome> outcomes) =>
        outcomes.Count > 0 && outcomes.All(outcome => outcome is InferenceOutcome.Unavailable { Unreachable: true });

    [LoggerMessage(Level = LogLevel.Warning, Message = "python-inference is unreachable ({Reason}); {Jobs} jobs of {Model} " +
        "wait for its return (at most {Wait}) without spending an attempt.")]
    private static partial void LogWaiting(ILogger logger, int jobs, string model, TimeSpan wait, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "python-inference is back: {Jobs} jobs of {Model} went on after waiting {Waited}.")]
    private static partial void LogBack(ILogger logger, int jobs, string model, TimeSpan waited);

    [LoggerMessage(Level = LogLevel.Warning, Message = "python-inference is still unreachable after {Waited}: the attempt of " +
        "{Jobs} jobs of {Model} counts as failed, and their retries are queued.")]
    private static partial void LogGaveUp(ILogger logger, int jobs, string model, TimeSpan waited);
}
