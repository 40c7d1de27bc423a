using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace AppHost.Operations;

/// <summary>
/// <c>AppHost:ExportTelemetry=false</c> (for measuring what telemetry costs, scripts/bench/telemetry_overhead.sh):
/// every service starts with an empty <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, so none exports; spans, metrics and logs
/// are still recorded in process, as before.
/// </summary>
public static class TelemetryExport
{
    public const string ConfigurationKey = "AppHost:ExportTelemetry";

    /// <summary>The OpenTelemetry SDKs' sampler settings (both languages read them, app/core/telemetry/sampling.py).</summary>
    public const string SamplerKey = "OTEL_TRACES_SAMPLER";

    public const string SamplerArgumentKey = "OTEL_TRACES_SAMPLER_ARG";

    public static IDistributedApplicationBuilder ApplyTelemetryExportSetting(this IDistributedApplicationBuilder builder)
    {
        if (builder.Configuration.GetValue(ConfigurationKey, defaultValue: true))
        {
            return builder;
        }

        // After every resource's own environment callbacks (Aspire's OTLP settings among them), so this one wins.
        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            foreach (var resource in @event.Model.Resources.OfType<IResourceWithEnvironment>())
            {
                resource.Annotations.Add(new EnvironmentCallbackAnnotation(context =>
                    context.EnvironmentVariables["OTEL_EXPORTER_OTLP_ENDPOINT"] = ""));
            }

            return Task.CompletedTask;
        });
        return builder;
    }

    /// <summary>
    /// Aspire starts every resource with <c>OTEL_TRACES_SAMPLER=always_on</c> (every trace to the dashboard). When the
    /// AppHost itself runs with <c>OTEL_TRACES_SAMPLER</c> (and <c>OTEL_TRACES_SAMPLER_ARG</c>), every service gets
    /// those instead, e.g. <c>parentbased_traceidratio</c> and <c>0.1</c> to run (or benchmark) as in production.
    /// </summary>
    public static IDistributedApplicationBuilder ApplyTraceSamplingSetting(this IDistributedApplicationBuilder builder)
    {
        var sampler = builder.Configuration[SamplerKey];
        if (string.IsNullOrWhiteSpace(sampler))
        {
            return builder;
        }

        var argument = builder.Configuration[SamplerArgumentKey];
        // After every resource's own environment callbacks (Aspire's OTLP settings among them), so this one wins.
        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            foreach (var resource in @event.Model.Resources.OfType<IResourceWithEnvironment>())
            {
                resource.Annotations.Add(new EnvironmentCallbackAnnotation(context =>
                {
                    context.EnvironmentVariables[SamplerKey] = sampler;
                    if (argument is not null)
                    {
                        context.EnvironmentVariables[SamplerArgumentKey] = argument;
                    }
                }));
            }

            return Task.CompletedTask;
        });
        return builder;
    }
}
