using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;

namespace Gateway.Upstream.Inference.Batching;

/// <summary>
/// What a failed batch call means for its callers. A bad input must not fail its neighbours: when python-inference
/// refuses a batch for its inputs, the batch is retried split — the inputs it named alone (each gets exactly the
/// answer it would have got unbatched), the others together; without names, in halves. Any other failure is the same
/// upstream problem for every caller.
/// </summary>
internal static partial class BatchFailures
{
    /// <summary>The parts to retry, or null when every caller gets <paramref name="problem"/>.</summary>
    public static IReadOnlyList<IReadOnlyList<T>>? SplitFor<T>(ProblemDetails problem, IReadOnlyList<T> members)
    {
        if (members.Count < 2 || problem.Status != StatusCodes.Status400BadRequest)
        {
            return null;
        }

        var code = ProblemDetailsContract.CodeOf(problem);
        if (code == ProblemCodes.ValidationFailed && NamedInputs(problem, members.Count) is { } bad)
        {
            var good = members.Where((_, index) => !bad.Contains(index)).ToList();
            var parts = bad.Order().Select(index => (IReadOnlyList<T>)[members[index]]).ToList();
            if (good.Count > 0)
            {
                parts.Insert(0, good);
            }

            return parts;
        }

        if (code is ProblemCodes.ValidationFailed or ProblemCodes.BatchTooLarge)
        {
            var half = members.Count / 2;
            return [members.Take(half).ToList(), members.Skip(half).ToList()];
        }

        return null;
    }

    /// <summary>The input positions a <c>validation_failed</c> problem names (<c>inputs[i]</c>), or null if it names anything else.</summary>
    public static IReadOnlySet<int>? NamedInputs(ProblemDetails problem, int count)
    {
        if (!problem.Extensions.TryGetValue("errors", out var errors) || errors is null)
        {
            return null;
        }

        IEnumerable<string> fields = errors switch
        {
            JsonElement { ValueKind: JsonValueKind.Object } json => json.EnumerateObject().Select(property => property.Name),
            IEnumerable<KeyValuePair<string, string[]>> dictionary => dictionary.Select(entry => entry.Key),
            _ => [],
        };
        var named = new HashSet<int>();
        foreach (var field in fields)
        {
            var match = InputField().Match(field);
            if (!match.Success || !int.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                || index >= count)
            {
                return null;
            }

            named.Add(index);
        }

        return named.Count > 0 ? named : null;
    }

    /// <summary>
    /// One caller's copy of a problem shared by a batch: the problem is completed per response (its trace id and
    /// instance are the caller's own), so callers must not share one instance.
    /// </summary>
    public static ProblemDetails CopyOf(ProblemDetails problem)
    {
        var copy = new ProblemDetails
        {
            Type = problem.Type,
            Title = problem.Title,
            Status = problem.Status,
            Detail = problem.Detail,
            Instance = problem.Instance,
        };
        foreach (var (key, value) in problem.Extensions)
        {
            copy.Extensions[key] = value;
        }

        return copy;
    }

    /// <summary>503 at once, rather than a wait without bound, when the queue in front of python-inference is full.</summary>
    public static ProblemDetails QueueFull(string model, TimeSpan retryAfter) =>
        TooManyWaiting($"The queue of predictions for model '{model}' is full", retryAfter);

    /// <summary>503 at once when the oldest caller in the queue has waited longer than <c>MaxQueueWait</c>.</summary>
    public static ProblemDetails QueueBehind(string model, TimeSpan maxQueueWait, TimeSpan retryAfter) =>
        TooManyWaiting($"Predictions for model '{model}' have waited more than {maxQueueWait.TotalSeconds:0.###} s for " +
            $"{HttpInferenceClient.ServiceName}, which is not keeping up", retryAfter);

    /// <summary>A queue refusal: 503 <c>concurrency_limited</c>, <paramref name="why"/> and when to retry, in whole seconds.</summary>
    private static ProblemDetails TooManyWaiting(string why, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        return ProblemDetailsContract.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.ConcurrencyLimited,
                "Too many predictions are waiting.", $"{why}; retry after {seconds} s.")
            .WithRetryAfter(TimeSpan.FromSeconds(seconds));
    }

    /// <summary>python-inference answered a batch with another number of predictions than it was sent.</summary>
    public static ProblemDetails Mismatched(int sent, int answered) =>
        ProblemDetailsContract.Create(StatusCodes.Status502BadGateway, ProblemCodes.UpstreamError,
            $"{HttpInferenceClient.ServiceName} sent an unreadable answer.",
            $"It answered {answered} predictions for {sent} inputs.");

    /// <summary>The gateway is stopping: the callers still waiting are told to come back.</summary>
    public static ProblemDetails Stopping() =>
        ProblemDetailsContract.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.UpstreamUnavailable,
            "The gateway is stopping.", "Retry the prediction; another gateway replica will answer it.");

    [GeneratedRegex(@"^inputs\[(\d+)\]$")]
    private static partial Regex InputField();
}
