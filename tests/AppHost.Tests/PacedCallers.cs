namespace AppHost.Tests;

/// <summary>
/// A few callers calling one after another for a while, paced: about a hundred calls a second together. Enough that
/// calls are in flight whenever a server closes a connection, and no more: every call leaves spans, and a flood would
/// overflow a service's span export queue, whose spans other tests read from the dashboard (found when eight unpaced
/// callers made a trace test fail).
/// </summary>
internal static class PacedCallers
{
    private const int Callers = 4;
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(40);

    /// <summary>Runs <paramref name="call"/>(caller, call number) until <paramref name="duration"/> has passed; the calls each caller made.</summary>
    public static Task<int[]> RunAsync(TimeSpan duration, Func<int, int, Task> call, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + duration;
        return Task.WhenAll(Enumerable.Range(0, Callers).Select(async caller =>
        {
            var calls = 0;
            while (DateTime.UtcNow < until)
            {
                await call(caller, calls);
                calls++;
                await Task.Delay(Pause, cancellationToken);
            }

            return calls;
        }));
    }
}
