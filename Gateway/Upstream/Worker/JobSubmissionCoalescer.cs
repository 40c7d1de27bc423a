using System.Diagnostics;
using Gateway.Application;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Upstream.Worker;

/// <summary>One submission on its way to the Worker: the job, its idempotency key, and the trace of the request it came from.</summary>
internal sealed record JobSubmissionRequest(JobSubmission Submission, string IdempotencyKey, ActivityContext Trace);

/// <summary>How submissions reach the Worker: one call each, or several of one owner's in one call.</summary>
internal interface IJobSubmissionSender
{
    Task<Outcome<JobView>> SendAsync(JobSubmissionRequest request, string owner, CancellationToken cancellationToken);

    /// <summary>One outcome per request, in order: each what <see cref="SendAsync"/> would have answered it alone.</summary>
    Task<IReadOnlyList<Outcome<JobView>>> SendManyAsync(IReadOnlyList<JobSubmissionRequest> requests, string owner,
        CancellationToken cancellationToken);
}

/// <summary>
/// Group commit in front of the Worker: each owner has at most <see cref="JobsOptions.MaxSubmissionCallsPerOwner"/>
/// submission calls in flight. A submission that finds a free call goes at once, alone, in its caller's trace (a
/// lone submission travels as it always did); the ones that arrive while every call is busy wait, and go together in
/// the next call as soon as one returns (up to <see cref="JobsOptions.MaxSubmissionsPerCall"/>), so a busy owner's
/// submissions cost one request to the Worker per batch rather than one each. There is no waiting window, and a
/// caller that goes away before its batch leaves is left out of it. The waiting callers are bounded by the gateway's
/// upstream limits, which hold each one's request slot meanwhile.
/// </summary>
internal sealed partial class JobSubmissionCoalescer(IOptions<JobsOptions> options, ILogger<JobSubmissionCoalescer> logger)
{
    private readonly Dictionary<string, OwnerCalls> _owners = new(StringComparer.Ordinal);

    /// <summary>How many owners have calls in flight (tests: none is kept once its calls have returned).</summary>
    internal int ActiveOwners
    {
        get
        {
            lock (_owners)
            {
                return _owners.Count;
            }
        }
    }

    public Task<Outcome<JobView>> SubmitAsync(IJobSubmissionSender sender, JobSubmissionRequest request, string owner,
        CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.MaxSubmissionCallsPerOwner == 0)
        {
            return sender.SendAsync(request, owner, cancellationToken);
        }

        Waiting? waiting = null;
        lock (_owners)
        {
            if (!_owners.TryGetValue(owner, out var calls))
            {
                _owners[owner] = calls = new OwnerCalls();
            }

            if (calls.InFlight < settings.MaxSubmissionCallsPerOwner)
            {
                calls.InFlight++;
            }
            else
            {
                waiting = new Waiting(request);
                calls.Queue.Enqueue(waiting);
            }
        }

        return waiting is null ? SendAloneAsync(sender, request, owner, cancellationToken) : waiting.WaitAsync(cancellationToken);
    }

    private async Task<Outcome<JobView>> SendAloneAsync(IJobSubmissionSender sender, JobSubmissionRequest request, string owner,
        CancellationToken cancellationToken)
    {
        try
        {
            return await sender.SendAsync(request, owner, cancellationToken);
        }
        finally
        {
            CallReturned(sender, owner);
        }
    }

    /// <summary>A call of <paramref name="owner"/>'s returned: its slot goes to the submissions that waited, or is freed.</summary>
    private void CallReturned(IJobSubmissionSender sender, string owner)
    {
        var batch = new List<Waiting>();
        lock (_owners)
        {
            var calls = _owners[owner];
            while (batch.Count < options.Value.MaxSubmissionsPerCall && calls.Queue.TryDequeue(out var waiting))
            {
                if (!waiting.IsDone) // its caller went away
                {
                    batch.Add(waiting);
                }
            }

            if (batch.Count == 0 && --calls.InFlight == 0)
            {
                _owners.Remove(owner);
            }
        }

        if (batch.Count > 0)
        {
            // The batch belongs to none of its callers' requests, least of all to the one whose call just returned.
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(() => SendTogetherAsync(sender, batch, owner));
            }
        }
    }

    private async Task SendTogetherAsync(IJobSubmissionSender sender, List<Waiting> batch, string owner)
    {
        try
        {
            var callers = batch.Select(waiting => waiting.Request.Trace).ToList();
            // The call continues the first sampled caller's trace and links every caller's: each job's own trace goes
            // on in the Worker from its request (the traceparent each submission carries).
            using var span = Telemetry.ActivitySource.StartActivity($"submit {batch.Count} jobs", ActivityKind.Internal,
                BatchTracing.ParentOf(callers), [new("jobs.count", batch.Count)],
                callers.Where(context => context != default).Select(context => new ActivityLink(context)));
            var outcomes = await sender.SendManyAsync([.. batch.Select(waiting => waiting.Request)], owner, CancellationToken.None);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Complete(i < outcomes.Count ? outcomes[i] : Mismatched(batch.Count, outcomes.Count));
            }
        }
        catch (Exception exception)
        {
            // A bug, not an upstream failure (those are outcomes): nobody may be left waiting because of it.
            LogBatchFailed(logger, batch.Count, exception);
            foreach (var waiting in batch)
            {
                waiting.Complete(Mismatched(batch.Count, 0));
            }
        }
        finally
        {
            CallReturned(sender, owner);
        }
    }

    /// <summary>The 502 a submission gets when its call answered a different number of results than it carried.</summary>
    internal static Outcome<JobView> Mismatched(int sent, int answered) => ProblemDetailsContract.Create(
        StatusCodes.Status502BadGateway, ProblemCodes.UpstreamError,
        $"{HttpJobsClient.ServiceName} answered {answered} results for {sent} submissions.");

    private sealed class OwnerCalls
    {
        public int InFlight;

        public Queue<Waiting> Queue { get; } = new();
    }

    private sealed class Waiting(JobSubmissionRequest request)
    {
        private readonly TaskCompletionSource<Outcome<JobView>> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public JobSubmissionRequest Request { get; } = request;

        public bool IsDone => _answer.Task.IsCompleted;

        public void Complete(Outcome<JobView> outcome) => _answer.TrySetResult(outcome);

        public async Task<Outcome<JobView>> WaitAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await _answer.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _answer.TrySetCanceled(cancellationToken); // left out of a batch not yet sent
                throw;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of {Count} job submissions failed unexpectedly.")]
    private static partial void LogBatchFailed(ILogger logger, int count, Exception exception);
}
