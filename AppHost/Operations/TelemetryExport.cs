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
}
