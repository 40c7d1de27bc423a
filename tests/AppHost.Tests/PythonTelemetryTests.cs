using Aspire.Hosting.Testing;
using Microsoft.Data.Sqlite;
using static AppHost.Tests.DashboardTelemetry;

namespace AppHost.Tests;

/// <summary>python-inference's logs, metrics and probes, as the dashboard holds them (<see cref="DashboardTelemetry"/>).</summary>
public sealed class PythonTelemetryTests(AppHostFixture stack)
{
    [Fact]
    public async Task A_failed_predictions_trace_id_finds_pythons_log_of_the_problem()
    {
        var response = await stack.Gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "unicorn", inputs = new[] { "hello" } }, TestContext.Current.CancellationToken);
        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "model_not_found");
        var traceId = problem.GetProperty("traceId").GetString()!;

        var record = await PollAsync(async cancellationToken => (await LogsOfTraceAsync(stack.Dashboard, traceId, cancellationToken))
            .FirstOrDefault(r => r.Service == "python-inference" && r.TraceId == traceId && r.Scope == "app.api.errors"),
            $"python-inference's log of trace {traceId}");

        Assert.Contains("model_not_found", record.Body, StringComparison.Ordinal);
        Assert.Equal("model_not_found", record.Attributes["problem.code"]);
        Assert.Matches("^[0-9a-f]{16}$", record.SpanId);
        Assert.True(record.SeverityNumber is >= 9 and <= 12, $"severity {record.SeverityNumber} is not INFO");
    }

    [Fact]
    public async Task Pythons_request_and_model_metrics_reach_the_dashboard_and_grow_with_a_prediction()
    {
        using var store = await OpenMetricStoreAsync(stack);
        var predict = new Dictionary<string, string>
        {
            ["http.request.method"] = "POST", ["http.route"] = "/v1/predict", ["http.response.status_code"] = "200",
        };
        var sentiment = new Dictionary<string, string> { ["model.name"] = "sentiment" };
        var requestsBefore = Count(store, "http.server.request.duration", predict);
        var modelCallsBefore = Count(store, "inference.model.duration", sentiment);

        using var request = await stack.Gateway.GetAsync("/predict?text=" + Uri.EscapeDataString("a lovely day"),
            TestContext.Current.CancellationToken);
        request.EnsureSuccessStatusCode();

        await PollAsync(cancellationToken => Task.FromResult<object?>(
                Count(store, "http.server.request.duration", predict).Count > requestsBefore.Count
                && Count(store, "inference.model.duration", sentiment).Count > modelCallsBefore.Count ? true : null),
            "python-inference's metrics to count the prediction");

        var requests = Count(store, "http.server.request.duration", predict);
        Assert.Equal("s", requests.Unit);
        Assert.Superset(new HashSet<string> { "http.request.method", "http.route", "http.response.status_code" }, requests.AttributeKeys);
        var modelCalls = Count(store, "inference.model.duration", sentiment);
        Assert.Equal("s", modelCalls.Unit);
        Assert.Superset(new HashSet<string> { "model.name", "model.version" }, modelCalls.AttributeKeys);
        var batchSizes = Count(store, "inference.model.batch_size", sentiment);
        Assert.Equal("{input}", batchSizes.Unit);
        Assert.True(batchSizes.Count >= modelCalls.Count - 1, "batch sizes and model calls are recorded together");
    }

    [Fact]
    public async Task Pythons_health_probes_leave_no_spans_in_the_dashboard()
    {
        // A probe of our own, with a trace id to look for; then a prediction, whose spans python-inference exports
        // after the probe's (one queue, in order): once they have arrived, a probe span would have too.
        var probeTraceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        using (var http = stack.App.CreateHttpClient("python-inference", "http"))
        using (var probe = new HttpRequestMessage(HttpMethod.Get, "/health"))
        {
            probe.Headers.Add("traceparent", $"00-{probeTraceId}-00f067aa0ba902b7-01");
            using var answer = await http.SendAsync(probe, TestContext.Current.CancellationToken);
            answer.EnsureSuccessStatusCode();
            Assert.Equal(probeTraceId, answer.Headers.GetValues("x-trace-id").Single());
        }

        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/predict?text=" + Uri.EscapeDataString("probes aside")))
        {
            request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
            (await stack.Gateway.SendAsync(request, TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();
        }

        await PollAsync(async cancellationToken =>
        {
            using var trace = await stack.Dashboard.GetAsync($"/api/telemetry/traces/{traceId}", cancellationToken);
            return trace.IsSuccessStatusCode
                   && SpanNames(await trace.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).Contains("POST /v1/predict")
                ? (object)true
                : null;
        }, $"python-inference's spans of trace {traceId}");

        using var probeTrace = await stack.Dashboard.GetAsync($"/api/telemetry/traces/{probeTraceId}", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, probeTrace.StatusCode);
        // Nor any of the probes Aspire has sent every few seconds since the stack started (HTTP and gRPC).
        using var spans = await stack.Dashboard.GetAsync("/api/telemetry/spans?resource=python-inference&limit=10000",
            TestContext.Current.CancellationToken);
        spans.EnsureSuccessStatusCode();
        var names = SpanNames(await spans.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).ToList();
        Assert.Contains("POST /v1/predict", names);
        Assert.DoesNotContain(names, name => name.Contains("/health", StringComparison.Ordinal)
                                             || name.Contains("/alive", StringComparison.Ordinal)
                                             || name.StartsWith("grpc.health.", StringComparison.Ordinal));
    }

    private static IEnumerable<string> SpanNames(JsonElement otlp)
    {
        var resourceSpans = otlp.TryGetProperty("resourceSpans", out var direct) ? direct
            : otlp.GetProperty("data").GetProperty("resourceSpans");
        return resourceSpans.EnumerateArray()
            .SelectMany(resource => resource.GetProperty("scopeSpans").EnumerateArray())
            .SelectMany(scope => scope.GetProperty("spans").EnumerateArray())
            .Select(span => span.GetProperty("name").GetString()!);
    }

    private static Measured Count(SqliteConnection store, string instrument, IReadOnlyDictionary<string, string> attributes) =>
        Read(store, "python-inference", instrument, attributes);
}
