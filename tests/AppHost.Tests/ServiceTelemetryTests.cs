using Aspire.Hosting.Testing;
using Microsoft.Data.Sqlite;
using static AppHost.Tests.DashboardTelemetry;

namespace AppHost.Tests;

/// <summary>
/// The C# services' telemetry as an operator reads it in the dashboard: logs that carry the trace id a client quotes,
/// the product's metrics (with their units and attributes, growing when the thing they count happens), and traces
/// free of health probes.
/// </summary>
public sealed class ServiceTelemetryTests(AppHostFixture stack)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_failed_predictions_trace_id_finds_the_gateways_and_pythons_logs_of_it()
    {
        var response = await stack.Gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "unicorn", inputs = new[] { "hello" } }, Token);
        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "model_not_found");
        var traceId = problem.GetProperty("traceId").GetString()!;

        // Each service exports in batches of its own: wait for the very lines, not only for some line of each.
        var logs = await WaitForLogsAsync(traceId,
            r => r.Service == "gateway" && r.Body.Contains("/api/v1/predictions", StringComparison.Ordinal) && r.Body.Contains("404", StringComparison.Ordinal),
            r => r.Service == "python-inference" && r.Attributes.GetValueOrDefault("problem.code") == "model_not_found");

        Assert.All(logs, r => Assert.Equal(traceId, r.TraceId));
    }

    [Fact]
    public async Task A_failed_jobs_trace_id_finds_the_logs_of_the_gateway_the_worker_and_python()
    {
        using var submitted = await stack.Gateway.PostAsJsonAsync("/api/v1/jobs", new { model = "unicorn", inputs = new[] { "hello" } }, Token);
        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);
        var quoted = submitted.Headers.GetValues("x-trace-id").Single();
        var job = await WaitForJobAsync(submitted.Headers.Location!, Token);
        Assert.Equal("failed", job.GetProperty("status").GetString());
        var error = job.GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        // The job's problem quotes the trace of the submission: the same id the 202 carried.
        var traceId = error.TryGetProperty("traceId", out var inProblem) ? inProblem.GetString()! : quoted;
        Assert.Equal(quoted, traceId);

        var logs = await WaitForLogsAsync(traceId,
            r => r.Service == "gateway" && r.Body.Contains("/api/v1/jobs", StringComparison.Ordinal),
            r => r.Service == "worker" && (r.Body.Contains("model_not_found", StringComparison.Ordinal)
                                           || r.Attributes.Values.Contains("model_not_found")),
            r => r.Service == "python-inference" && r.Attributes.GetValueOrDefault("problem.code") == "model_not_found");

        Assert.All(logs, r => Assert.Equal(traceId, r.TraceId));
    }

    [Fact]
    public async Task A_jobs_counters_duration_model_calls_and_webhook_grow_in_the_dashboard_with_units_and_attributes()
    {
        using var store = await OpenMetricStoreAsync(stack);
        var sentiment = Attributes(("model.name", "sentiment"));
        var grpcCalls = Attributes(("model.name", "sentiment"), ("inference.transport", "grpc"));
        // Counters and histograms: a replica that an earlier test killed and restarted counts from zero again.
        Measured Worker(string instrument, IReadOnlyDictionary<string, string>? attributes = null) =>
            Read(store, "worker", instrument, attributes, acrossRestarts: true);
        var submittedBefore = Worker("jobs.submitted", sentiment);
        var completedBefore = Worker("jobs.completed", sentiment);
        var durationBefore = Worker("jobs.duration", sentiment);
        var callsBefore = Worker("inference.client.duration", grpcCalls);
        var deliveredBefore = Worker("webhooks.deliveries", Attributes(("webhook.outcome", "delivered")));

        using var owner = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"metrics-{Guid.NewGuid():N}"));
        await using var receiver = await WebhookReceiver.StartAsync(await SigningKeys.ForOwnerAsync(owner, Token), Token);
        using var submitted = await owner.PostAsJsonAsync("/api/v1/jobs",
            new { model = "sentiment", inputs = new[] { "counted, timed, delivered" }, callbackUrl = receiver.Url.ToString() }, Token);
        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);
        Assert.Equal("succeeded", (await WaitForJobAsync(submitted.Headers.Location!, Token, owner)).GetProperty("status").GetString());

        var submittedAfter = await WaitForGrowthAsync(() => Worker("jobs.submitted", sentiment), submittedBefore, "jobs.submitted");
        var completed = await WaitForGrowthAsync(() => Worker("jobs.completed", sentiment), completedBefore, "jobs.completed");
        var duration = await WaitForGrowthAsync(() => Worker("jobs.duration", sentiment), durationBefore, "jobs.duration");
        var calls = await WaitForGrowthAsync(() => Worker("inference.client.duration", grpcCalls), callsBefore, "the Worker's inference.client.duration");
        var delivered = await WaitForGrowthAsync(() => Worker("webhooks.deliveries", Attributes(("webhook.outcome", "delivered"))),
            deliveredBefore, "webhooks.deliveries");

        Assert.Equal("{job}", submittedAfter.Unit);
        Assert.Contains("model.name", submittedAfter.AttributeKeys);
        Assert.Equal("{job}", completed.Unit);
        Assert.Equal("s", duration.Unit);
        Assert.Superset(new HashSet<string> { "model.name", "job.status" }, duration.AttributeKeys);
        Assert.Equal("s", calls.Unit);
        Assert.Equal("{delivery}", delivered.Unit);
    }

    [Fact]
    public async Task The_gateways_model_calls_and_rate_limit_rejections_are_counted_per_model_transport_and_policy()
    {
        using var store = await OpenMetricStoreAsync(stack);
        var httpCalls = Attributes(("model.name", "sentiment"), ("inference.transport", "http"));
        var admin = Attributes(("aspnetcore.rate_limiting.policy", "admin"));
        var callsBefore = Read(store, "gateway", "inference.client.duration", httpCalls);
        var rejectionsBefore = Read(store, "gateway", "gateway.rate_limit.rejections", admin);

        (await stack.Gateway.GetAsync("/predict?text=" + Uri.EscapeDataString("timed at the gateway"), Token)).EnsureSuccessStatusCode();
        // The admin policy allows 10 at once per subject: a burst of 15 from a new subject is refused at least 5 times.
        using var operatorClient = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"burst-{Guid.NewGuid():N}", scopes: "admin"));
        var answers = await Task.WhenAll(Enumerable.Range(0, 15).Select(_ => operatorClient.GetAsync("/api/v1/admin/consumption", Token)));
        var refused = answers.Count(answer => answer.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(refused >= 5, $"only {refused} of 15 were refused");

        var calls = await WaitForGrowthAsync(() => Read(store, "gateway", "inference.client.duration", httpCalls), callsBefore,
            "the gateway's inference.client.duration");
        Assert.Equal("s", calls.Unit);
        var rejections = await WaitForGrowthAsync(
            () => Read(store, "gateway", "gateway.rate_limit.rejections", admin) is { } now && now.Value >= rejectionsBefore.Value + refused
                ? now : rejectionsBefore,
            rejectionsBefore, $"{refused} more rate-limit rejections of the admin policy");
        Assert.Equal("{request}", rejections.Unit);
        Assert.Equal(rejectionsBefore.Value + refused, rejections.Value);
    }

    [Fact]
    public async Task The_broker_and_outbox_gauges_report_every_queue_and_the_backlog()
    {
        using var store = await OpenMetricStoreAsync(stack);
        var jobs = Attributes(("messaging.destination.name", "jobs"));

        // Every Worker replica consumes the jobs queue (each reports the broker's count, so the sum is replicas²).
        var consumers = await PollAsync(_ => Task.FromResult(Read(store, "worker", "rabbitmq.queue.consumers", jobs) is { Value: > 0 } found
            ? found : null), "rabbitmq.queue.consumers of the jobs queue");
        Assert.Equal("{consumer}", consumers.Unit);
        Assert.Superset(new HashSet<string> { "messaging.system", "messaging.destination.name" }, consumers.AttributeKeys);
        Assert.Equal("{message}", Read(store, "worker", "rabbitmq.queue.messages", Attributes(("messaging.destination.name", "jobs.dead"))).Unit);
        var backlog = await PollAsync(_ => Task.FromResult(Read(store, "worker", "outbox.backlog") is { Unit.Length: > 0 } found ? found : null),
            "outbox.backlog");
        Assert.Equal("{message}", backlog.Unit);
        Assert.Equal("s", Read(store, "worker", "outbox.oldest_age").Unit);
    }

    [Fact]
    public async Task No_health_probe_leaves_a_span_in_the_dashboard_from_the_csharp_services()
    {
        // A probe of our own on the gRPC gateway, whose readiness check calls python-inference's grpc.health.v1;
        // then a prediction, whose spans the gateway exports after the probe's (one queue, in order).
        var probeTraceId = Traces.NewTraceId();
        using (var http = stack.App.CreateHttpClient(AppHostFixture.GrpcGateway, "http"))
        using (var probe = Traces.Traced(HttpMethod.Get, "/health", probeTraceId))
        {
            (await http.SendAsync(probe, Token)).EnsureSuccessStatusCode();
        }

        var traceId = Traces.NewTraceId();
        using (var client = stack.CreateGatewayClient(stack.Tokens.Create(), AppHostFixture.GrpcGateway))
        using (var request = Traces.Traced(HttpMethod.Get, "/predict?text=" + Uri.EscapeDataString("probes aside"), traceId))
        {
            (await client.SendAsync(request, Token)).EnsureSuccessStatusCode();
        }

        await Traces.WaitForAsync(stack.Dashboard, traceId,
            spans => spans.Any(s => s.Service == AppHostFixture.GrpcGateway && s.Kind == TraceSpan.SpanKind.Client),
            "the gRPC gateway's call into python-inference");
        using var probeTrace = await stack.Dashboard.GetAsync($"/api/telemetry/traces/{probeTraceId}", Token);
        Assert.Equal(HttpStatusCode.NotFound, probeTrace.StatusCode);

        // A probe of our own on one Worker replica (its HTTP port, not the proxy), then a job, which that replica's
        // exporter sends after it if it processes it; either way a probe span would have had time to arrive.
        var workerProbeTraceId = Traces.NewTraceId();
        var replica = stack.ReplicasOf("worker")[0];
        using (var http = new HttpClient { BaseAddress = stack.OwnAddressOf(replica), Timeout = AppHostFixture.StepTimeout })
        using (var probe = Traces.Traced(HttpMethod.Get, "/health", workerProbeTraceId))
        {
            (await http.SendAsync(probe, Token)).EnsureSuccessStatusCode();
        }

        var jobTraceId = Traces.NewTraceId();
        using (var job = Traces.Traced(HttpMethod.Post, "/api/v1/jobs", jobTraceId, new { model = "sentiment", inputs = new[] { "after a probe" } }))
        {
            await Problems.AssertStatusAsync(await stack.Gateway.SendAsync(job, Token), HttpStatusCode.Accepted);
        }

        await Traces.WaitForAsync(stack.Dashboard, jobTraceId, spans => spans.Any(s => s.Service == "worker" && s.Name == "process jobs"),
            "the job's process span");
        using var workerProbeTrace = await stack.Dashboard.GetAsync($"/api/telemetry/traces/{workerProbeTraceId}", Token);
        Assert.Equal(HttpStatusCode.NotFound, workerProbeTrace.StatusCode);

        // Nor any of the probes Aspire has sent every few seconds since the stack started (HTTP and gRPC).
        foreach (var service in new[] { "gateway", AppHostFixture.GrpcGateway })
        {
            using var answer = await stack.Dashboard.GetAsync($"/api/telemetry/spans?resource={service}&limit=10000", Token);
            answer.EnsureSuccessStatusCode();
            var spans = Traces.Parse(await answer.Content.ReadFromJsonAsync<JsonElement>(Token));
            Assert.True(spans.Any(span => span.Service == service),
                $"the dashboard listed {spans.Count} spans for resource={service}, none of them {service}'s"
                + $" (services: {string.Join(", ", spans.Select(span => span.Service).Distinct())})");
            Assert.DoesNotContain(spans, span => IsProbe(span.Name)
                || span.Attributes.Where(a => a.Key is "url.path" or "url.full" or "http.route" or "rpc.service").Any(a => IsProbe(a.Value)));
        }
    }

    private static bool IsProbe(string text) =>
        text.Contains("/health", StringComparison.Ordinal) || text.Contains("/alive", StringComparison.Ordinal)
        || text.Contains("grpc.health.v1", StringComparison.Ordinal);

    private static Dictionary<string, string> Attributes(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);

    /// <summary>The trace's log records once one of them matches each of <paramref name="wanted"/>.</summary>
    private async Task<IReadOnlyList<LogRecord>> WaitForLogsAsync(string traceId, params Func<LogRecord, bool>[] wanted)
    {
        IReadOnlyList<LogRecord> logs = [];
        try
        {
            return await PollAsync(async cancellationToken =>
            {
                logs = await LogsOfTraceAsync(stack.Dashboard, traceId, cancellationToken);
                return wanted.All(logs.Any) ? logs : null;
            }, $"the logs of trace {traceId}");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{exception.Message}; got: {string.Join(" | ", logs.Select(r => r.Describe()))}");
        }
    }

    private async Task<JsonElement> WaitForJobAsync(Uri location, CancellationToken cancellationToken, HttpClient? client = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AppHostFixture.StepTimeout);
        while (true)
        {
            var job = await (client ?? stack.Gateway).GetFromJsonAsync<JsonElement>(location, timeout.Token);
            if (job.GetProperty("status").GetString() is not ("queued" or "running"))
            {
                return job;
            }

            await Task.Delay(200, timeout.Token);
        }
    }
}
