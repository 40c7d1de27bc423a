using System.Diagnostics;
using Aspire.Hosting.Testing;
using Microsoft.Data.Sqlite;

namespace AppHost.Tests;

/// <summary>
/// python-inference's logs and metrics, as the dashboard holds them. Logs are read through the dashboard's telemetry
/// API (<c>/api/telemetry/logs</c>). The 13.6 dashboard has no API for metrics, so they are read from its own store:
/// the SQLite file the dashboard process keeps open (tables <c>telemetry_metric_*</c>), read-only.
/// </summary>
public sealed class PythonTelemetryTests(AppHostFixture stack)
{
    private static readonly TimeSpan ExportTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task A_failed_predictions_trace_id_finds_pythons_log_of_the_problem()
    {
        var response = await stack.Gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "unicorn", inputs = new[] { "hello" } }, TestContext.Current.CancellationToken);
        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "model_not_found");
        var traceId = problem.GetProperty("traceId").GetString()!;

        var record = await PollAsync(async cancellationToken =>
        {
            using var logs = await stack.Dashboard.GetAsync($"/api/telemetry/logs?traceId={traceId}", cancellationToken);
            return logs.IsSuccessStatusCode
                ? PythonLogs(await logs.Content.ReadFromJsonAsync<JsonElement>(cancellationToken))
                    .FirstOrDefault(r => r.TraceId == traceId && r.Scope == "app.api.errors")
                : null;
        }, $"python-inference's log of trace {traceId}");

        Assert.Contains("model_not_found", record.Body, StringComparison.Ordinal);
        Assert.Equal("model_not_found", record.Attributes["problem.code"]);
        Assert.Matches("^[0-9a-f]{16}$", record.SpanId);
        Assert.True(record.SeverityNumber is >= 9 and <= 12, $"severity {record.SeverityNumber} is not INFO");
    }

    [Fact]
    public async Task Pythons_request_and_model_metrics_reach_the_dashboard_and_grow_with_a_prediction()
    {
        using var store = OpenDashboardStore(await DashboardProcessIdAsync());
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

    private sealed record LogRecord(string Scope, string TraceId, string SpanId, int SeverityNumber, string Body,
        IReadOnlyDictionary<string, string> Attributes);

    private sealed record Measured(long Count, string Unit, HashSet<string> AttributeKeys);

    /// <summary>
    /// The latest (cumulative) count of every series of python-inference's <paramref name="instrument"/> whose
    /// attributes include <paramref name="attributes"/>, summed over its replicas.
    /// </summary>
    private static Measured Count(SqliteConnection store, string instrument, IReadOnlyDictionary<string, string> attributes)
    {
        using var command = store.CreateCommand();
        command.CommandText = """
            SELECT d.dimension_id, i.unit,
                   (SELECT p.histogram_count FROM telemetry_metric_points p WHERE p.dimension_id = d.dimension_id
                    ORDER BY p.end_time_ticks DESC, p.point_id DESC LIMIT 1)
            FROM telemetry_metric_instruments i
            JOIN telemetry_resources r ON r.resource_id = i.resource_id
            JOIN telemetry_metric_dimensions d ON d.instrument_id = i.instrument_id
            WHERE r.resource_name = 'python-inference' AND i.instrument_name = $instrument
            """;
        command.Parameters.AddWithValue("$instrument", instrument);
        var series = new List<(long Dimension, string Unit, long Count)>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                series.Add((reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? 0 : reader.GetInt64(2)));
            }
        }

        long total = 0;
        string unit = "";
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (dimension, seriesUnit, count) in series)
        {
            var seriesAttributes = DimensionAttributes(store, dimension);
            if (attributes.All(a => seriesAttributes.TryGetValue(a.Key, out var value) && value == a.Value))
            {
                total += count;
                unit = seriesUnit;
                keys.UnionWith(seriesAttributes.Keys);
            }
        }

        return new Measured(total, unit, keys);
    }

    private static Dictionary<string, string> DimensionAttributes(SqliteConnection store, long dimension)
    {
        using var command = store.CreateCommand();
        command.CommandText = "SELECT attribute_key, attribute_value FROM telemetry_metric_dimension_attributes WHERE dimension_id = $d";
        command.Parameters.AddWithValue("$d", dimension);
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            attributes[reader.GetString(0)] = reader.GetString(1);
        }

        return attributes;
    }

    /// <summary>The dashboard's process, as DCP reports it for the <c>aspire-dashboard</c> resource.</summary>
    private async Task<int> DashboardProcessIdAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(AppHostFixture.StepTimeout);
        var running = await stack.App.ResourceNotifications.WaitForResourceAsync("aspire-dashboard",
            e => e.Snapshot.Properties.Any(p => p.Name == "executable.pid" && p.Value is not null), timeout.Token);
        return Convert.ToInt32(running.Snapshot.Properties.First(p => p.Name == "executable.pid").Value,
            System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The store of this stack's dashboard, held open by the dashboard's process (or one it started).</summary>
    private static SqliteConnection OpenDashboardStore(int dashboard)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid))
            {
                try
                {
                    // "pid (name) state ppid ...": the name may hold spaces, so read after its closing parenthesis.
                    var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                    parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                    // gone meanwhile
                }
            }
        }

        bool Descends(int pid)
        {
            for (var hops = 0; hops < 4 && parents.TryGetValue(pid, out var parent); hops++, pid = parent)
            {
                if (parent == dashboard)
                {
                    return true;
                }
            }

            return false;
        }

        foreach (var pid in parents.Keys.Where(pid => pid == dashboard || Descends(pid)))
        {
            string[] descriptors;
            try
            {
                descriptors = Directory.GetFiles($"/proc/{pid}/fd");
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var descriptor in descriptors)
            {
                var target = new FileInfo(descriptor).LinkTarget;
                if (target is not null && target.EndsWith("/dashboard.db", StringComparison.Ordinal))
                {
                    var connection = new SqliteConnection(new SqliteConnectionStringBuilder
                    {
                        DataSource = target, Mode = SqliteOpenMode.ReadOnly, Pooling = false,
                    }.ToString());
                    connection.Open();
                    return connection;
                }
            }
        }

        Assert.Fail($"the dashboard (process {dashboard}) holds no dashboard.db open: has its store moved?");
        throw new UnreachableException();
    }

    private static IEnumerable<LogRecord> PythonLogs(JsonElement otlp)
    {
        var resourceLogs = otlp.TryGetProperty("resourceLogs", out var direct) ? direct
            : otlp.GetProperty("data").GetProperty("resourceLogs");
        foreach (var resource in resourceLogs.EnumerateArray())
        {
            var attributes = Attributes(resource.GetProperty("resource"));
            if (attributes.GetValueOrDefault("service.name") != "python-inference")
            {
                continue;
            }

            foreach (var scope in resource.GetProperty("scopeLogs").EnumerateArray())
            {
                var name = scope.GetProperty("scope").GetProperty("name").GetString()!;
                foreach (var record in scope.GetProperty("logRecords").EnumerateArray())
                {
                    yield return new LogRecord(name,
                        record.TryGetProperty("traceId", out var trace) ? trace.GetString()! : "",
                        record.TryGetProperty("spanId", out var span) ? span.GetString()! : "",
                        record.GetProperty("severityNumber").GetInt32(),
                        record.GetProperty("body").GetProperty("stringValue").GetString()!,
                        Attributes(record));
                }
            }
        }
    }

    /// <summary>OTLP JSON attributes as strings (the dashboard's API gives every value as a string).</summary>
    private static Dictionary<string, string> Attributes(JsonElement item)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (item.TryGetProperty("attributes", out var list))
        {
            foreach (var attribute in list.EnumerateArray())
            {
                var value = attribute.GetProperty("value").EnumerateObject().FirstOrDefault();
                attributes[attribute.GetProperty("key").GetString()!] = value.Value.ValueKind == JsonValueKind.String
                    ? value.Value.GetString()!
                    : value.Value.ToString();
            }
        }

        return attributes;
    }

    private static async Task<T> PollAsync<T>(Func<CancellationToken, Task<T?>> attempt, string what) where T : class
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(ExportTimeout);
        try
        {
            while (true)
            {
                if (await attempt(timeout.Token) is { } found)
                {
                    return found;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"waited {ExportTimeout.TotalSeconds} s for {what}");
            throw;
        }
    }
}
