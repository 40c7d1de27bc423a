using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Worker.Tests;

/// <summary>
/// Production's sampler (parent-based, docs/operations.md) over the Worker's spans, for as long as the returned provider
/// is not disposed: what the Worker does with a trace that was not sampled shows only under it.
/// </summary>
internal static class ProductionSampling
{
    public static TracerProvider Start() => Sdk.CreateTracerProviderBuilder()
        .AddSource(Microsoft.Extensions.Hosting.Telemetry.ActivitySourceName)
        .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()))
        .Build();
}
