namespace Chaos.Verdict;

/// <summary>When a route works again after a service came back.</summary>
public static class Recovery
{
    /// <summary>
    /// The time from <paramref name="returned"/> (the service answers again) until the route succeeded for good: the
    /// start of the first successful request after which every request of the route that started before
    /// <paramref name="until"/> succeeded too. Zero when it never failed after the return; null when it did not recover
    /// (the last request failed, or none succeeded).
    /// </summary>
    public static TimeSpan? Time(IEnumerable<RequestSample> samples, string route, DateTimeOffset returned, DateTimeOffset until)
    {
        var after = samples.Where(s => s.Route == route && s.Started >= returned && s.Started < until)
            .OrderBy(s => s.Started).ToList();
        if (after.Count == 0)
        {
            return null;
        }

        var lastFailure = after.FindLastIndex(s => !s.Succeeded);
        if (lastFailure == after.Count - 1)
        {
            return null;
        }

        return lastFailure < 0 ? TimeSpan.Zero : after[lastFailure + 1].Started - returned;
    }
}
