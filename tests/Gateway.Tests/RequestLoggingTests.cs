using System.Collections.Concurrent;
using Gateway.Requests;
using Gateway.Tests.Hosting;
using Gateway.Upstream.Inference;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;

namespace Gateway.Tests;

/// <summary>
/// Keeps the request log lines the gateway writes, with their structured fields: every line as the console gets it,
/// and what reaches the OpenTelemetry logger provider's processors (the OTLP export), both filtered by the gateway's
/// own logging configuration.
/// </summary>
public class LogCapturingFactory : GatewayFactory, ILoggerProvider
{
    public ConcurrentQueue<(string Category, string Message, IReadOnlyDictionary<string, object?> Fields)> RequestLines { get; } = new();

    /// <summary>The category and trace id of each request line the OpenTelemetry provider exports.</summary>
    public ConcurrentQueue<(string Category, string? TraceId)> ExportedRequestLines { get; } = new();

    public FakeInferenceClient Inference => (FakeInferenceClient)Services.GetRequiredService<IInferenceClient>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services =>
        {
            services.AddLogging(logging => logging.AddProvider(this));
            services.ConfigureOpenTelemetryLoggerProvider(logging => logging.AddProcessor(new ExportedLines(this)));
        });
    }

    ILogger ILoggerProvider.CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    private static bool IsRequestLine(string? category) =>
        category?.StartsWith("Gateway.Requests.RequestLoggingMiddleware", StringComparison.Ordinal) == true;

    private sealed class CapturingLogger(LogCapturingFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsRequestLine(category) && state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                owner.RequestLines.Enqueue((category, formatter(state, exception), fields.ToDictionary(f => f.Key, f => f.Value)));
            }
        }
    }

    private sealed class ExportedLines(LogCapturingFactory owner) : BaseProcessor<LogRecord>
    {
        public override void OnEnd(LogRecord data)
        {
            if (IsRequestLine(data.CategoryName))
            {
                var traceId = data.Attributes?.FirstOrDefault(a => a.Key == "TraceId").Value as string;
                owner.ExportedRequestLines.Enqueue((data.CategoryName!, traceId));
            }
        }
    }
}

public sealed class RequestLoggingTests(LogCapturingFactory factory) : IClassFixture<LogCapturingFactory>
{
    [Fact]
    public async Task One_line_per_request_with_route_template_status_trace_and_subject_but_no_token_or_body()
    {
        var token = TestTokens.Create(subject: "log-heidi");
        using var client = factory.CreateAuthorizedClient(token);
        var secretText = "my private diary entry";

        var response = await client.GetAsync($"/predict?text={Uri.EscapeDataString(secretText)}", TestContext.Current.CancellationToken);
        var traceId = Assert.Single(response.Headers.GetValues("X-Trace-Id"));

        var line = Assert.Single(factory.RequestLines, l => Equals(l.Fields["TraceId"], traceId));
        Assert.Equal("GET", line.Fields["Method"]);
        Assert.Equal("/predict", line.Fields["Route"]);
        Assert.Equal(200, line.Fields["Status"]);
        Assert.Equal("log-heidi", line.Fields["Subject"]);
        Assert.IsType<double>(line.Fields["ElapsedMs"]);
        Assert.DoesNotContain(token, line.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("diary", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejected_request_is_logged_with_its_status_and_no_subject()
    {
        using var client = factory.CreateClient();

        var response = await client.GetAsync($"/api/v1/jobs/{Guid.NewGuid()}", TestContext.Current.CancellationToken);
        var traceId = Assert.Single(response.Headers.GetValues("X-Trace-Id"));

        var line = Assert.Single(factory.RequestLines, l => Equals(l.Fields["TraceId"], traceId));
        Assert.Equal(401, line.Fields["Status"]);
        Assert.Equal("/api/v1/jobs/{id:guid}", line.Fields["Route"]);
        Assert.Equal("-", line.Fields["Subject"]);
    }
}

/// <summary>The request log with the sampled-out lines kept off the OTLP export (the opt-in of docs/operations.md, "Logs").</summary>
public sealed class SampledLogExportFactory : LogCapturingFactory
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
        [new($"Logging:OpenTelemetry:LogLevel:{RequestLoggingMiddleware.SampledOutCategory}", "None")];
}

/// <summary>Which request lines reach the OTLP export, by default and with the sampled-out ones kept off it.</summary>
public sealed class RequestLogExportTests(LogCapturingFactory byDefault, SampledLogExportFactory sampled)
    : IClassFixture<LogCapturingFactory>, IClassFixture<SampledLogExportFactory>
{
    private const string SampledParent = "00-6bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    private static string UnsampledParent() => $"00-{Guid.NewGuid():N}-00f067aa0ba902b7-00";

    private static async Task<(string TraceId, HttpResponseMessage Response)> PredictAsync(LogCapturingFactory factory, string traceparent)
    {
        using var client = factory.CreateAuthorizedClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/predict?text=lovely");
        request.Headers.Add("traceparent", traceparent);
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return (Assert.Single(response.Headers.GetValues("X-Trace-Id")), response);
    }

    [Fact]
    public async Task By_default_every_line_is_exported_a_sampled_out_ones_under_its_own_category()
    {
        var (sampledOut, response) = await PredictAsync(byDefault, UnsampledParent());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(RequestLoggingMiddleware.SampledOutCategory, Assert.Single(byDefault.RequestLines, l => Equals(l.Fields["TraceId"], sampledOut)).Category);
        Assert.Equal(RequestLoggingMiddleware.SampledOutCategory, Assert.Single(byDefault.ExportedRequestLines, l => l.TraceId == sampledOut).Category);
    }

    [Fact]
    public async Task A_probe_which_is_never_traced_logs_under_the_sampled_out_category()
    {
        using var client = byDefault.CreateClient();

        using var response = await client.GetAsync("/alive", TestContext.Current.CancellationToken);
        var traceId = Assert.Single(response.Headers.GetValues("X-Trace-Id"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var line = Assert.Single(byDefault.RequestLines, l => Equals(l.Fields["TraceId"], traceId));
        Assert.Equal(RequestLoggingMiddleware.SampledOutCategory, line.Category);
        Assert.Equal("/alive", line.Fields["Route"]);
    }

    [Fact]
    public async Task Opted_in_a_kept_traces_line_is_exported_and_a_sampled_out_ones_stays_on_the_console()
    {
        var (kept, keptResponse) = await PredictAsync(sampled, SampledParent);
        var (sampledOut, sampledOutResponse) = await PredictAsync(sampled, UnsampledParent());

        Assert.Equal(HttpStatusCode.OK, keptResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, sampledOutResponse.StatusCode);
        // The console has both, each under its category.
        Assert.Equal("Gateway.Requests.RequestLoggingMiddleware", Assert.Single(sampled.RequestLines, l => Equals(l.Fields["TraceId"], kept)).Category);
        Assert.Equal(RequestLoggingMiddleware.SampledOutCategory, Assert.Single(sampled.RequestLines, l => Equals(l.Fields["TraceId"], sampledOut)).Category);
        // The export has the kept trace's line only.
        Assert.Single(sampled.ExportedRequestLines, l => l.TraceId == kept);
        Assert.DoesNotContain(sampled.ExportedRequestLines, l => l.TraceId == sampledOut);
    }

    [Fact]
    public async Task Opted_in_a_sampled_out_request_that_fails_with_a_5xx_is_exported()
    {
        sampled.Inference.Failure = UpstreamProblems.Of(503, "upstream_unavailable", "python-inference is unavailable.");
        string traceId;
        HttpResponseMessage response;
        try
        {
            (traceId, response) = await PredictAsync(sampled, UnsampledParent());
        }
        finally
        {
            sampled.Inference.Failure = null; // the class's other tests share the fake
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Gateway.Requests.RequestLoggingMiddleware", Assert.Single(sampled.RequestLines, l => Equals(l.Fields["TraceId"], traceId)).Category);
        Assert.Single(sampled.ExportedRequestLines, l => l.TraceId == traceId);
    }
}
