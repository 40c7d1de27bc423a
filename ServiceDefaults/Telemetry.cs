using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;

namespace Microsoft.Extensions.Hosting;

/// <summary>The activity source and meter the services' own code reports through.</summary>
public static class Telemetry
{
    public const string ActivitySourceName = "MlGateway";

    /// <summary>The meter of every instrument of our own (create it through <see cref="IMeterFactory"/>).</summary>
    public const string MeterName = "MlGateway";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    /// <summary>
    /// Work not worth a trace of its own (an idle poll, a gauge's sample, a health check's call): until the scope is
    /// disposed no span is recorded in this flow, by any instrumentation (database commands and gRPC calls included).
    /// OpenTelemetry drops the flow's log records too, so log after the scope rather than in it.
    /// </summary>
    public static IDisposable Untraced() => SuppressInstrumentationScope.Begin();

    /// <summary>Bucket bounds in seconds for durations from a millisecond (a cached prediction) to minutes (a queued job).</summary>
    public static readonly IReadOnlyList<double> DurationBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
}
