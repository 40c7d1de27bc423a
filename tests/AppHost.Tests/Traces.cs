namespace AppHost.Tests;

/// <summary>One span of a trace as the dashboard's telemetry API returns it (OTLP JSON).</summary>
public sealed record TraceSpan(
    string Service, string TraceId, string SpanId, string? ParentSpanId, string Name, TraceSpan.SpanKind Kind,
    IReadOnlyDictionary<string, string> Attributes)
{
    public enum SpanKind { Unspecified, Internal, Server, Client, Producer, Consumer }
}

/// <summary>Reads traces back from the Aspire dashboard, waiting (bounded) for the spans a test needs.</summary>
public static class Traces
{
    public static readonly TimeSpan ExportTimeout = TimeSpan.FromSeconds(45);

    public static string NewTraceId() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());

    /// <summary>A request that starts trace <paramref name="traceId"/> (the services continue the caller's traceparent).</summary>
    public static HttpRequestMessage Traced(HttpMethod method, string path, string traceId, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        return request;
    }

    /// <summary>
    /// Polls the dashboard until the trace satisfies <paramref name="complete"/> (each service exports in batches of
    /// its own); fails naming what arrived if it does not within <see cref="ExportTimeout"/>.
    /// </summary>
    public static async Task<IReadOnlyList<TraceSpan>> WaitForAsync(
        HttpClient dashboard, string traceId, Func<IReadOnlyList<TraceSpan>, bool> complete, string waitingFor)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ExportTimeout);
        IReadOnlyList<TraceSpan> spans = [];
        try
        {
            while (true)
            {
                using var response = await dashboard.GetAsync($"/api/telemetry/traces/{traceId}", timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    spans = Parse(await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token));
                    if (complete(spans))
                    {
                        return spans;
                    }
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"trace {traceId} did not show {waitingFor} within {ExportTimeout.TotalSeconds} s; " +
                        $"got: {string.Join("; ", spans.Select(s => $"{s.Service} {s.Kind} {s.Name}"))}");
            throw;
        }
    }

    public static List<TraceSpan> Parse(JsonElement otlp)
    {
        var spans = new List<TraceSpan>();
        var resourceSpans = otlp.TryGetProperty("resourceSpans", out var direct) ? direct
            : otlp.GetProperty("data").GetProperty("resourceSpans");
        foreach (var resource in resourceSpans.EnumerateArray())
        {
            var service = Attributes(resource.GetProperty("resource"))["service.name"];
            foreach (var scope in resource.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                {
                    spans.Add(new TraceSpan(service, span.GetProperty("traceId").GetString()!, span.GetProperty("spanId").GetString()!,
                        span.TryGetProperty("parentSpanId", out var parent) ? parent.GetString() : null,
                        span.GetProperty("name").GetString()!, KindOf(span), Attributes(span)));
                }
            }
        }

        return spans;
    }

    // OTLP JSON writes the kind as its number; some writers use the enum's name (SPAN_KIND_CLIENT).
    private static TraceSpan.SpanKind KindOf(JsonElement span) =>
        !span.TryGetProperty("kind", out var kind) ? TraceSpan.SpanKind.Unspecified
        : kind.ValueKind == JsonValueKind.Number ? (TraceSpan.SpanKind)kind.GetInt32()
        : Enum.TryParse<TraceSpan.SpanKind>(kind.GetString()!.Replace("SPAN_KIND_", "", StringComparison.Ordinal), ignoreCase: true, out var named)
            ? named : TraceSpan.SpanKind.Unspecified;

    private static Dictionary<string, string> Attributes(JsonElement owner)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (owner.TryGetProperty("attributes", out var list))
        {
            foreach (var attribute in list.EnumerateArray())
            {
                var value = attribute.GetProperty("value");
                attributes[attribute.GetProperty("key").GetString()!] = value.EnumerateObject().FirstOrDefault() is { Value: var inner } && inner.ValueKind != JsonValueKind.Undefined
                    ? inner.ValueKind == JsonValueKind.String ? inner.GetString()! : inner.GetRawText()
                    : "";
            }
        }

        return attributes;
    }
}
