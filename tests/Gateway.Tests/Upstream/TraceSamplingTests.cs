using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.Tests.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Gateway.Tests.Upstream;

/// <summary>
/// <c>OTEL_TRACES_SAMPLER</c> as the service defaults leave it to the OpenTelemetry SDK: the gateway with its real
/// batcher and HTTP transport in front of a stand-in python-inference that records the <c>traceparent</c> it gets.
/// A sampled-out request records no span and tells python-inference "not sampled"; a sampled-in one is one trace
/// from the request through the batch call to python-inference.
/// </summary>
/// <remarks>
/// Alone in its collection: activity listeners are process-wide, and another test's tracer provider (which samples
/// everything) would record the spans this one expects to be left out.
/// </remarks>
[Collection(nameof(TraceSamplingCollection))]
public sealed class TraceSamplingTests : IAsyncLifetime
{
    private const string SampledParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private const string UnsampledParent = "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly ConcurrentQueue<string?> _upstreamTraceparents = new();
    private WebApplication? _inference;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _inference = builder.Build();
        _inference.MapPost("/v1/predict", async (HttpRequest request) =>
        {
            _upstreamTraceparents.Enqueue(request.Headers["traceparent"].FirstOrDefault());
            var body = await JsonSerializer.DeserializeAsync<JsonElement>(request.Body);
            var predictions = body.GetProperty("inputs").EnumerateArray().Select(input => new { label = input.GetString(), score = 0.9 });
            return Results.Json(new { model = "sentiment", version = "1.0.0", predictions });
        });
        await _inference.StartAsync(Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_inference is not null)
        {
            await _inference.DisposeAsync();
        }
    }

    private sealed class SamplingGateway(string inferenceUrl, string sampler, string? ratio, ConcurrentQueue<Activity> spans)
        : GatewayFactory
    {
        protected override bool FakeInference => false;

        protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
        [
            new("Inference:Transport", "Http"), // the stand-in below speaks HTTP/JSON
            new("Inference:BaseAddress", inferenceUrl),
            new("OTEL_TRACES_SAMPLER", sampler),
            new("OTEL_TRACES_SAMPLER_ARG", ratio),
        ];

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services =>
                services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddProcessor(new Recorder(spans))));
        }
    }

    private sealed class Recorder(ConcurrentQueue<Activity> spans) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => spans.Enqueue(data);
    }

    private async Task<(string TraceId, string? Upstream, List<Activity> Spans)> PredictAsync(
        string sampler, string? ratio, string? traceparent)
    {
        var spans = new ConcurrentQueue<Activity>();
        await using var gateway = new SamplingGateway(_inference!.Urls.Single(), sampler, ratio, spans);
        using var client = gateway.CreateAuthorizedClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/predict?text=lovely");
        if (traceparent is not null)
        {
            request.Headers.Add("traceparent", traceparent);
        }

        _upstreamTraceparents.Clear();
        using var response = await client.SendAsync(request, Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceId = response.Headers.GetValues("X-Trace-Id").Single();
        var upstream = Assert.Single(_upstreamTraceparents);
        // The server span ends after the response has been sent: give it a moment before reading what was recorded.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!spans.Any(span => span.DisplayName == "GET /predict") && DateTime.UtcNow < deadline && sampler != "always_off"
               && traceparent != UnsampledParent)
        {
            await Task.Delay(20, Token);
        }

        await Task.Delay(100, Token);
        return (traceId, upstream, spans.Where(span => span.TraceId.ToHexString() == traceId).ToList());
    }

    [Theory]
    [InlineData("parentbased_traceidratio", "0", null)]
    [InlineData("parentbased_always_on", null, UnsampledParent)]
    [InlineData("parentbased_traceidratio", "1", UnsampledParent)]
    public async Task A_sampled_out_request_records_no_span_and_tells_python_inference_not_sampled(
        string sampler, string? ratio, string? traceparent)
    {
        var (traceId, upstream, spans) = await PredictAsync(sampler, ratio, traceparent);

        Assert.Empty(spans);
        Assert.NotNull(upstream);
        Assert.StartsWith($"00-{traceId}-", upstream);
        Assert.EndsWith("-00", upstream);
    }

    [Theory]
    [InlineData("parentbased_always_on", null, null)]
    [InlineData("parentbased_traceidratio", "1", null)]
    [InlineData("parentbased_traceidratio", "0", SampledParent)]
    public async Task A_sampled_in_request_is_one_trace_from_the_gateway_into_python_inference(
        string sampler, string? ratio, string? traceparent)
    {
        var (traceId, upstream, spans) = await PredictAsync(sampler, ratio, traceparent);

        Assert.NotNull(upstream);
        Assert.EndsWith("-01", upstream);
        Assert.StartsWith($"00-{traceId}-", upstream);
        var server = Assert.Single(spans, span => span.DisplayName == "GET /predict");
        var caller = Assert.Single(spans, span => span.OperationName == "predict sentiment batched");
        var batch = Assert.Single(spans, span => span.OperationName == "inference batch sentiment");
        var call = Assert.Single(spans, span => span.Kind == ActivityKind.Client);
        Assert.Equal(server.SpanId, caller.ParentSpanId);
        Assert.Equal(caller.SpanId, batch.ParentSpanId);
        Assert.Equal(batch.SpanId, call.ParentSpanId);
        // The stand-in's server span (recorded by this process's tracer provider too) is the client span's child, as
        // python-inference's is.
        Assert.Equal(call.SpanId.ToHexString(), upstream.Split('-')[2]);
        var upstreamServer = Assert.Single(spans, span => span.DisplayName == "POST /v1/predict");
        Assert.Equal(call.SpanId, upstreamServer.ParentSpanId);
        Assert.Equal(5, spans.Count);
        Assert.All(spans, span => Assert.True(span.Recorded));
    }
}

/// <summary>Runs after the parallel tests, alone: no other tracer provider is listening meanwhile.</summary>
[CollectionDefinition(nameof(TraceSamplingCollection), DisableParallelization = true)]
public sealed class TraceSamplingCollection;
