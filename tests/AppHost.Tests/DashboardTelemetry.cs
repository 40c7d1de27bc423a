using System.Diagnostics;
using Aspire.Hosting.Testing;
using Microsoft.Data.Sqlite;

namespace AppHost.Tests;

/// <summary>
/// Telemetry as the dashboard holds it. Logs and traces come through its telemetry API (<c>/api/telemetry/...</c>);
/// the 13.6 dashboard has no API for metrics, so they are read from its own store: the SQLite file the dashboard
/// process keeps open (tables <c>telemetry_metric_*</c>), read-only.
/// </summary>
public static class DashboardTelemetry
{
    public static readonly TimeSpan ExportTimeout = TimeSpan.FromSeconds(45);

    public sealed record LogRecord(string Service, string Scope, string TraceId, string SpanId, int SeverityNumber, string Body,
        IReadOnlyDictionary<string, string> Attributes)
    {
        /// <summary>One line for a failure's message: the service, the logger, the message and its attributes.</summary>
        public string Describe() => $"{Service} {Scope}: {Body} [{string.Join(", ", Attributes.Select(a => $"{a.Key}={a.Value}"))}]";
    }

    /// <summary>
    /// An instrument's latest (cumulative) value summed over the series that match — a histogram's count, a counter's
    /// total, a gauge's value — with its unit and the attribute keys those series carry.
    /// </summary>
    public sealed record Measured(double Value, string Unit, HashSet<string> AttributeKeys)
    {
        public long Count => (long)Value;
    }

    /// <summary>The metric store of this stack's dashboard, read-only.</summary>
    public static async Task<SqliteConnection> OpenMetricStoreAsync(AppHostFixture stack) =>
        OpenStore(await DashboardProcessIdAsync(stack));

    /// <summary>
    /// The latest value of every series of <paramref name="resource"/>'s <paramref name="instrument"/> whose attributes
    /// include <paramref name="attributes"/>, summed over the resource's replicas. With <paramref name="acrossRestarts"/>
    /// (for counters and histograms, whose points are cumulative since their process started) a series sums the latest
    /// value of each start time: a replica restarted under the same name reports into the same series from zero again,
    /// and its first new point would otherwise read lower than the dead process's last.
    /// </summary>
    public static Measured Read(SqliteConnection store, string resource, string instrument,
        IReadOnlyDictionary<string, string>? attributes = null, bool acrossRestarts = false)
    {
        using var command = store.CreateCommand();
        command.CommandText = """
            SELECT d.dimension_id, i.unit, p.start_time_ticks, COALESCE(p.histogram_count, p.integer_value, p.double_value)
            FROM telemetry_metric_instruments i
            JOIN telemetry_resources r ON r.resource_id = i.resource_id
            JOIN telemetry_metric_dimensions d ON d.instrument_id = i.instrument_id
            LEFT JOIN telemetry_metric_points p ON p.dimension_id = d.dimension_id
            WHERE r.resource_name = $resource AND i.instrument_name = $instrument
            ORDER BY d.dimension_id, p.end_time_ticks, p.point_id
            """;
        command.Parameters.AddWithValue("$resource", resource);
        command.Parameters.AddWithValue("$instrument", instrument);
        // Per series, the latest value of each start time (the rows come oldest first, so the last one written wins).
        var latest = new Dictionary<(long Dimension, long Start), double>();
        var units = new Dictionary<long, string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var dimension = reader.GetInt64(0);
                units[dimension] = reader.GetString(1);
                var start = acrossRestarts && !reader.IsDBNull(2) ? reader.GetInt64(2) : 0;
                latest[(dimension, start)] = reader.IsDBNull(3) ? 0 : reader.GetDouble(3);
            }
        }

        var series = latest.GroupBy(point => point.Key.Dimension)
            .Select(group => (Dimension: group.Key, Unit: units[group.Key], Value: group.Sum(point => point.Value)))
            .ToList();

        double total = 0;
        string unit = "";
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (dimension, seriesUnit, value) in series)
        {
            var seriesAttributes = DimensionAttributes(store, dimension);
            if (attributes is null || attributes.All(a => seriesAttributes.TryGetValue(a.Key, out var wanted) && wanted == a.Value))
            {
                total += value;
                unit = seriesUnit;
                keys.UnionWith(seriesAttributes.Keys);
            }
        }

        return new Measured(total, unit, keys);
    }

    /// <summary>Polls until <paramref name="read"/> exceeds <paramref name="before"/>; fails naming the instrument if it does not.</summary>
    public static Task<Measured> WaitForGrowthAsync(Func<Measured> read, Measured before, string what) =>
        PollAsync(_ => Task.FromResult(read() is { } now && now.Value > before.Value ? now : null), what);

    /// <summary>Every log record of the trace, from every service.</summary>
    public static async Task<IReadOnlyList<LogRecord>> LogsOfTraceAsync(HttpClient dashboard, string traceId, CancellationToken cancellationToken)
    {
        using var logs = await dashboard.GetAsync($"/api/telemetry/logs?traceId={traceId}", cancellationToken);
        return logs.IsSuccessStatusCode ? [.. Logs(await logs.Content.ReadFromJsonAsync<JsonElement>(cancellationToken))] : [];
    }

    public static async Task<T> PollAsync<T>(Func<CancellationToken, Task<T?>> attempt, string what) where T : class
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
    private static async Task<int> DashboardProcessIdAsync(AppHostFixture stack)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(AppHostFixture.StepTimeout);
        var running = await stack.App.ResourceNotifications.WaitForResourceAsync("aspire-dashboard",
            e => e.Snapshot.Properties.Any(p => p.Name == "executable.pid" && p.Value is not null), timeout.Token);
        return Convert.ToInt32(running.Snapshot.Properties.First(p => p.Name == "executable.pid").Value,
            System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The store of this stack's dashboard, held open by the dashboard's process (or one it started).</summary>
    private static SqliteConnection OpenStore(int dashboard)
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

    private static IEnumerable<LogRecord> Logs(JsonElement otlp)
    {
        var resourceLogs = otlp.TryGetProperty("resourceLogs", out var direct) ? direct
            : otlp.GetProperty("data").GetProperty("resourceLogs");
        foreach (var resource in resourceLogs.EnumerateArray())
        {
            var service = Attributes(resource.GetProperty("resource")).GetValueOrDefault("service.name") ?? "";
            foreach (var scope in resource.GetProperty("scopeLogs").EnumerateArray())
            {
                var name = scope.GetProperty("scope").GetProperty("name").GetString()!;
                foreach (var record in scope.GetProperty("logRecords").EnumerateArray())
                {
                    yield return new LogRecord(service, name,
                        record.TryGetProperty("traceId", out var trace) ? trace.GetString()! : "",
                        record.TryGetProperty("spanId", out var span) ? span.GetString()! : "",
                        record.TryGetProperty("severityNumber", out var severity) ? severity.GetInt32() : 0,
                        record.TryGetProperty("body", out var body) && body.TryGetProperty("stringValue", out var text) ? text.GetString()! : "",
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
}
