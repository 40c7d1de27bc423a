using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace AppHost.Operations;

/// <summary>
/// The Aspire dashboard stores what the services export (Aspire 13.6 writes it to SQLite), each kind up to a count
/// (<c>Dashboard:TelemetryLimits:*</c>). Aspire's defaults let the metrics grow for hours: 50,000 points per series, and
/// every service exports every second in development. The AppHost starts its dashboard with smaller limits
/// (<see cref="Defaults"/>), so a stack left running under load keeps a bounded footprint (docs/operations.md).
/// Each can be set in the AppHost's configuration under the dashboard's own key, e.g. the environment variable
/// <c>Dashboard__TelemetryLimits__MaxMetricsCount=50000</c> or <c>--Dashboard:TelemetryLimits:MaxMetricsCount=50000</c>.
/// </summary>
public static class DashboardTelemetryLimits
{
    /// <summary>The name Aspire gives the dashboard's resource (run mode only).</summary>
    public const string DashboardResourceName = "aspire-dashboard";

    public const string Section = "Dashboard:TelemetryLimits";

    /// <summary>The limits the dashboard starts with unless the AppHost's configuration names others.</summary>
    public static readonly IReadOnlyDictionary<string, int> Defaults = new Dictionary<string, int>
    {
        // Points kept per metric series (per instrument and set of attributes): an hour at one export a second, the
        // metrics page's "last hour" (Aspire's 50,000 is about 14 hours).
        ["MaxMetricsCount"] = 3_600,
        // Traces and structured log entries kept (Aspire's defaults; each store is a ring of that many).
        ["MaxTraceCount"] = 10_000,
        ["MaxLogCount"] = 10_000,
    };

    /// <summary>The dashboard's environment: one <c>Dashboard__TelemetryLimits__*</c> variable per limit.</summary>
    public static IReadOnlyDictionary<string, string> EnvironmentFor(IConfiguration configuration) =>
        Defaults.ToDictionary(
            limit => $"{Section.Replace(":", "__", StringComparison.Ordinal)}__{limit.Key}",
            limit => configuration[$"{Section}:{limit.Key}"] is { Length: > 0 } configured
                ? configured
                : limit.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// Aspire adds the dashboard's resource to the model only when the application starts, so the limits go onto it
    /// just before it starts.
    /// </summary>
    public static IDistributedApplicationBuilder ApplyDashboardTelemetryLimits(this IDistributedApplicationBuilder builder)
    {
        if (!builder.ExecutionContext.IsRunMode)
        {
            return builder;
        }

        var environment = EnvironmentFor(builder.Configuration);
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>((@event, _) =>
        {
            var dashboard = @event.Resource;
            if (dashboard.Name == DashboardResourceName && !dashboard.Annotations.OfType<LimitsAnnotation>().Any())
            {
                dashboard.Annotations.Add(new LimitsAnnotation());
                dashboard.Annotations.Add(new EnvironmentCallbackAnnotation(context =>
                {
                    foreach (var (name, value) in environment)
                    {
                        context.EnvironmentVariables[name] = value;
                    }
                }));
            }

            return Task.CompletedTask;
        });
        return builder;
    }

    /// <summary>Marks a dashboard resource that already has the limits (a restart raises the event again).</summary>
    private sealed class LimitsAnnotation : IResourceAnnotation;
}
