using System.Collections.Concurrent;
using Gateway.Tests.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests;

/// <summary>Keeps the request log lines the gateway writes, with their structured fields.</summary>
public sealed class LogCapturingFactory : GatewayFactory, ILoggerProvider
{
    public ConcurrentQueue<(string Message, IReadOnlyDictionary<string, object?> Fields)> RequestLines { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddLogging(logging => logging.AddProvider(this)));
    }

    ILogger ILoggerProvider.CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    private sealed class CapturingLogger(LogCapturingFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (category.EndsWith("RequestLoggingMiddleware", StringComparison.Ordinal) && state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                owner.RequestLines.Enqueue((formatter(state, exception), fields.ToDictionary(f => f.Key, f => f.Value)));
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
