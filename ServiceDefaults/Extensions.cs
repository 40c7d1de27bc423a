using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ServiceDefaults.Problems;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every C# service in the system shares: telemetry, health endpoints, service discovery and the
/// problem-details error contract, with or without resilience on every outgoing HTTP client.
/// </summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    private const string LiveTag = "live";

    /// <summary>
    /// The basic defaults and the standard resilience handler (retries, timeouts, circuit breaker) on every HttpClient,
    /// for a service whose clients all want it.
    /// </summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder =>
        builder.AddDefaults(resilientHttpClients: true);

    /// <summary>
    /// Telemetry, health checks, service discovery on every HttpClient and the problem contract, but no resilience
    /// handler: each client states its own policy once (the gateway's and the Worker's clients differ on purpose).
    /// </summary>
    public static TBuilder AddBasicServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder =>
        builder.AddDefaults(resilientHttpClients: false);

    private static TBuilder AddDefaults<TBuilder>(this TBuilder builder, bool resilientHttpClients)
        where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            if (resilientHttpClients)
            {
                http.AddStandardResilienceHandler(); // outside discovery, so a retry resolves its endpoint again
            }

            http.AddServiceDiscovery();
        });
        builder.Services.AddProblemDetailsContract();
        builder.Services.AddSingleton<InferenceCallMetrics>();
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(Telemetry.MeterName))
            // No sampler in code on purpose: OpenTelemetry then reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG from
            // the configuration (default parentbased_always_on), as python-inference does (docs/operations.md).
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(Telemetry.ActivitySourceName)
                // Probes would otherwise drown the traces that matter.
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsProbe(context.Request.Path))
                // A health check that calls another service (the gateway's gRPC health check of python-inference)
                // would otherwise leave a root span of its own every few seconds.
                .AddHttpClientInstrumentation(options => options.FilterHttpRequestMessage = request =>
                    request.RequestUri is not { } uri || !IsProbe(new PathString(uri.AbsolutePath)))
                // Grpc.Net.Client starts a client span of its own around every call (whenever a trace is current), the
                // parent of the HTTP/2 request's span: unrecorded, it cut every gRPC call off from its caller's tree.
                .AddGrpcClientInstrumentation(options => options.SuppressDownstreamInstrumentation = false));

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        // A stopping service sends its last telemetry within a bound instead of waiting on a slow collector.
        builder.Services.AddHostedService<TelemetryFlushOnStop>();

        return builder;
    }

    /// <summary>Health and liveness probes, over HTTP or gRPC (<c>grpc.health.v1</c>): never traced.</summary>
    public static bool IsProbe(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath) || path.StartsWithSegments(AlivenessEndpointPath)
        || path.StartsWithSegments(GrpcHealthServicePath);

    private const string GrpcHealthServicePath = "/grpc.health.v1.Health";

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>
    /// Maps <c>/health</c> (readiness: every check) and <c>/alive</c> (liveness: the process answers).
    /// Both are mapped in every environment because Kubernetes probes need them; they reveal only a status word.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Probes carry no credentials, also where every other endpoint requires them (the Worker).
        app.MapHealthChecks(HealthEndpointPath).DisableHttpMetrics().AllowAnonymous();
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
        }).DisableHttpMetrics().AllowAnonymous();
        return app;
    }
}
