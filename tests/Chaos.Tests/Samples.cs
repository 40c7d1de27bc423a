namespace Chaos.Tests;

/// <summary>Request samples on a timeline measured in seconds from <see cref="T0"/>.</summary>
internal static class Samples
{
    public static readonly DateTimeOffset T0 = new(2026, 12, 2, 4, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    public static TimeWindow Window(double from, double to) => new(At(from), At(to));

    public static RequestSample Ok(double at, double ms = 10, string route = Routes.Predict) =>
        new(route, At(at), TimeSpan.FromMilliseconds(ms), 200, null);

    public static RequestSample Failed(double at, int status = 503, string? code = "upstream_unavailable", double ms = 5,
        string route = Routes.Predict) =>
        new(route, At(at), TimeSpan.FromMilliseconds(ms), status, code);
}
