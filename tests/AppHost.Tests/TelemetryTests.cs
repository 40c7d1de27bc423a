namespace AppHost.Tests;

/// <summary>One request is one trace across C# and Python, as the dashboard shows it.</summary>
public sealed class TelemetryTests(AppHostFixture stack)
{
    [Fact]
    public async Task A_prediction_is_one_trace_from_the_gateway_into_python()
    {
        var traceId = NewTraceId();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/predict?text=" + Uri.EscapeDataString("lovely day"));
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        (await stack.Gateway.SendAsync(request, TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();

        var spans = await WaitForSpansAsync(traceId, ["gateway", "python-inference"]);

        Assert.All(spans, span => Assert.Equal(traceId, span.TraceId));
        var pythonServer = spans.Single(s => s.Service == "python-inference" && s.Name == "POST /v1/predict");
        var parent = spans.Single(s => s.SpanId == pythonServer.ParentSpanId);
        Assert.Equal("gateway", parent.Service);
        Assert.Contains(spans, s => s.Service == "python-inference" && s.Name == "predict sentiment" && s.ParentSpanId == pythonServer.SpanId);
    }

    [Fact]
    public async Task A_job_is_one_trace_through_the_worker_and_rabbitmq_into_python()
    {
        var traceId = NewTraceId();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
        {
            Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { "fine work" } }),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        await Problems.AssertStatusAsync(await stack.Gateway.SendAsync(request, TestContext.Current.CancellationToken), HttpStatusCode.Accepted);

        // The Worker publishes the job (`publish jobs`), a replica processes it (`process jobs`, continuing the trace
        // from the message's traceparent header) and calls python-inference over gRPC, whose metadata continues it
        // again: one connected tree, from Python's server span up through `process jobs` to the client's span.
        var spans = await WaitForSpansAsync(traceId, ["gateway", "worker", "python-inference"],
            also: found => found.Any(s => s.Service == "worker" && s.Name == "publish jobs")
                           && AncestorsOf(found, found.FirstOrDefault(s => s.Service == "python-inference" && s.Name == GrpcPredictStream))
                               is [.., { ParentSpanId: ClientSpanId }] chain
                           && chain.Any(s => s.Service == "worker" && s.Name == "process jobs"),
            pythonServerSpan: GrpcPredictStream);

        var pythonServer = spans.Single(s => s.Service == "python-inference" && s.Name == GrpcPredictStream);
        var up = AncestorsOf(spans, pythonServer);
        Assert.Equal("worker", up[1].Service);
        // The gRPC call's own client span (Grpc.Net.Client's, which was never exported) sits between the job's
        // prediction span and the HTTP/2 request.
        var grpcClient = Assert.Single(up, s => s.Service == "worker" && s.Kind == TraceSpan.SpanKind.Client && s.Name == GrpcPredictStream);
        // The RPC conventions as OpenTelemetry's Grpc.Net.Client instrumentation writes them (rpc.system.name, the
        // full method in rpc.method).
        Assert.Equal("grpc", grpcClient.Attributes["rpc.system.name"]);
        Assert.Equal(GrpcPredictStream, grpcClient.Attributes["rpc.method"]);
        var predict = up[up.IndexOf(grpcClient) + 1];
        Assert.Equal("worker", predict.Service);
        Assert.Matches("^predict [0-9]+ jobs$", predict.Name); // with the jobs batched alongside, if any
        Assert.Equal("process jobs", up[up.IndexOf(predict) + 1].Name);
        var publish = spans.Single(s => s.Service == "worker" && s.Name == "publish jobs");
        var process = spans.Single(s => s.Service == "worker" && s.Name == "process jobs");
        Assert.Equal(publish.SpanId, process.ParentSpanId);
        Assert.Equal(TraceSpan.SpanKind.Producer, publish.Kind);
        Assert.Equal(TraceSpan.SpanKind.Consumer, process.Kind);
        foreach (var (span, operation) in new[] { (publish, "send"), (process, "process") })
        {
            Assert.Equal("rabbitmq", span.Attributes["messaging.system"]);
            Assert.Equal("jobs", span.Attributes["messaging.destination.name"]);
            Assert.Equal(operation, span.Attributes["messaging.operation.type"]);
            Assert.Matches("^[0-9a-f-]{36}$", span.Attributes["messaging.message.id"]);
        }

        Assert.Equal(publish.Attributes["messaging.message.id"], process.Attributes["messaging.message.id"]);
        Assert.DoesNotContain(spans, s => s.Name.Contains("amq.default", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_jobs_completion_event_continues_the_trace_into_consumers_in_both_languages()
    {
        var traceId = NewTraceId();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
        {
            Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { "a pleasant surprise" } }),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        await Problems.AssertStatusAsync(await stack.Gateway.SendAsync(request, TestContext.Current.CancellationToken), HttpStatusCode.Accepted);

        // The Worker writes job.completed with the job's trace; its outbox relay publishes it as a child of that
        // trace, and python-inference's analytics consumer continues it from the message's traceparent header.
        // Each service exports in its own batches, so wait until the relay's span and the consumer's span have
        // arrived together with their parents. (At-least-once: two replicas' relays may both publish one event, and
        // either publication's spans count.)
        static bool WithParent(IReadOnlyList<TraceSpan> found, TraceSpan span) => found.Any(parent => parent.SpanId == span.ParentSpanId);
        var spans = await WaitForSpansAsync(traceId, ["gateway", "worker", "python-inference"],
            also: found => found.Any(s => s.Service == "worker" && s.Name == "publish events" && WithParent(found, s))
                           && found.Any(s => s.Service == "python-inference" && s.Name == "process events.analytics" && WithParent(found, s)),
            pythonServerSpan: GrpcPredictStream);

        var analytics = spans.First(s => s.Service == "python-inference" && s.Name == "process events.analytics" && WithParent(spans, s));
        Assert.Equal("worker", spans.First(s => s.SpanId == analytics.ParentSpanId).Service);
    }

    private const string GrpcPredictStream = "inference.v1.Inference/PredictStream";

    /// <summary>The span id of the traceparent these tests send: the parent of the gateway's first span.</summary>
    private const string ClientSpanId = "00f067aa0ba902b7";

    /// <summary><paramref name="span"/> and its ancestors, as far as they have arrived (the span first).</summary>
    private static List<TraceSpan> AncestorsOf(IReadOnlyList<TraceSpan> spans, TraceSpan? span)
    {
        var chain = new List<TraceSpan>();
        for (; span is not null && chain.Count < 50; span = spans.FirstOrDefault(s => s.SpanId == span.ParentSpanId))
        {
            chain.Add(span);
        }

        return chain;
    }

    private static string NewTraceId() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());

    /// <summary>Polls the dashboard until the trace holds the whole chain into Python (exporters batch).</summary>
    private Task<IReadOnlyList<TraceSpan>> WaitForSpansAsync(
        string traceId, string[] services, Func<IReadOnlyList<TraceSpan>, bool>? also = null,
        string pythonServerSpan = "POST /v1/predict") =>
        // Each service exports in its own batches, so wait until the chain into Python is complete: every service
        // reported, and Python's server span, its parent and its model span have arrived.
        Traces.WaitForAsync(stack.Dashboard, traceId, spans =>
        {
            var pythonServer = spans.FirstOrDefault(s => s.Service == "python-inference" && s.Name == pythonServerSpan);
            return services.All(service => spans.Any(s => s.Service == service)) && pythonServer is not null
                   && spans.Any(s => s.SpanId == pythonServer.ParentSpanId)
                   && spans.Any(s => s.ParentSpanId == pythonServer.SpanId) && (also is null || also(spans));
        }, $"spans from {string.Join(", ", services)} and the chain into Python");
}
