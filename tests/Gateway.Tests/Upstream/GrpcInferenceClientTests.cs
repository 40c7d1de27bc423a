using Gateway.Upstream.Inference;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using InferenceV1 = global::Inference.V1;
using Microsoft.Extensions.Hosting;
using Tests.Metrics;
using static Tests.Contracts.RpcFailures;

namespace Gateway.Tests.Upstream;

/// <summary>The gRPC transport against a stand-in python-inference: answers and the status → problem mapping.</summary>
public sealed class GrpcInferenceClientTests : IAsyncLifetime
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly FakeInference _fake = new();
    private readonly MeterCapture _meters = new();
    private WebApplication? _server;
    private GrpcChannel? _channel;

    public async ValueTask InitializeAsync()
    {
        // Kestrel on a loopback port with HTTP/2 cleartext, as python-inference serves it (TestServer resets a call
        // at its deadline instead of answering DEADLINE_EXCEEDED).
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(_fake);
        _server = builder.Build();
        _server.MapGrpcService<FakeInference>();
        await _server.StartAsync(Token);
        _channel = GrpcChannel.ForAddress(_server.Urls.Single());
    }

    public async ValueTask DisposeAsync()
    {
        _meters.Dispose();
        _channel?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private GrpcInferenceClient Client(TimeSpan? deadline = null) => new(
        new InferenceV1.Inference.InferenceClient(_channel!),
        Options.Create(new InferenceOptions { AttemptTimeout = deadline ?? TimeSpan.FromSeconds(5) }),
        new InferenceCallMetrics(_meters.Factory), NullLogger<GrpcInferenceClient>.Instance);

    private static PredictionRequest Request(params string[] inputs) =>
        new("sentiment", [.. inputs.Select(input => JsonSerializer.SerializeToElement(input))]);

    [Fact]
    public async Task Predictions_come_back_as_the_http_transport_gives_them()
    {
        _fake.Answer = request => new InferenceV1.PredictBatchResponse
        {
            Model = request.Model, Version = "1.0.0",
            Predictions = { request.Inputs.Select(input => new InferenceV1.Prediction { Label = input.Text, Score = 0.5 }) },
        };

        var result = await Client().PredictAsync(Request("a", "b"), Token);

        Assert.NotNull(result.Value);
        Assert.Equal(new PredictionResponse("sentiment", "1.0.0", [new("a", 0.5), new("b", 0.5)]),
            result.Value with { Predictions = result.Value.Predictions.ToList() }, new ResponseComparer());
    }

    [Fact]
    public async Task Each_call_records_its_duration_per_model_and_transport_with_the_problem_code_of_a_failure()
    {
        var both = System.Diagnostics.Stopwatch.StartNew();
        _fake.Answer = request => new InferenceV1.PredictBatchResponse { Model = request.Model, Version = "1.0.0" };
        await Client().PredictAsync(Request(), Token);
        _fake.Answer = _ => throw Failure(StatusCode.NotFound, "no such model", "model_not_found");
        await Client().PredictAsync(Request("a"), Token);
        var elapsed = both.Elapsed.TotalSeconds;

        var calls = _meters.Of(InferenceCallMetrics.DurationName);
        Assert.Equal(2, calls.Count);
        Assert.All(calls, call =>
        {
            Assert.Equal("s", call.Unit);
            Assert.Equal("sentiment", call.Tags["model.name"]);
            Assert.Equal("grpc", call.Tags["inference.transport"]);
            // In seconds: no longer than both calls took (a loaded machine once took 5 s over the first one).
            Assert.InRange(call.Value, 0, elapsed);
        });
        Assert.False(calls[0].Tags.ContainsKey("error.type"));
        Assert.Equal("model_not_found", calls[1].Tags["error.type"]);
    }

    [Fact]
    public async Task Inputs_keep_their_kind_and_other_json_values_travel_as_they_are()
    {
        var inputs = JsonElement.Parse("""["text", [5.1, 3.5, 1.4, 0.2], 42, [1, "a"], null, [1e400]]""");

        var converted = inputs.EnumerateArray().Select(global::Inference.V1.ModelInput.FromJson).ToList();

        Assert.Equal("text", converted[0].Text);
        Assert.Equal([5.1, 3.5, 1.4, 0.2], converted[1].Features.Values);
        Assert.Equal(42, converted[2].Other.NumberValue);
        Assert.Equal(InferenceV1.ModelInput.KindOneofCase.Other, converted[3].KindCase);
        Assert.Equal("a", converted[3].Other.ListValue.Values[1].StringValue);
        Assert.Equal(Value.KindOneofCase.NullValue, converted[4].Other.KindCase);
        Assert.Equal(double.PositiveInfinity, converted[5].Features.Values[0]);
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument, "validation_failed", 400, "validation_failed")]
    [InlineData(StatusCode.InvalidArgument, "batch_too_large", 400, "batch_too_large")]
    [InlineData(StatusCode.NotFound, "model_not_found", 404, "model_not_found")]
    [InlineData(StatusCode.Unavailable, null, 503, "upstream_unavailable")]
    [InlineData(StatusCode.Unavailable, "not_ready", 503, "not_ready")]
    [InlineData(StatusCode.DeadlineExceeded, null, 504, "upstream_timeout")]
    [InlineData(StatusCode.Internal, "internal_error", 502, "upstream_error")]
    [InlineData(StatusCode.Unknown, null, 502, "upstream_error")]
    [InlineData(StatusCode.Unimplemented, null, 502, "upstream_error")]
    public async Task A_status_becomes_the_problem_of_the_contract(StatusCode status, string? trailerCode, int expectedStatus,
        string expectedCode)
    {
        _fake.Answer = _ => throw Failure(status, "KeyError in model.py line 12", trailerCode);

        var result = await Client().PredictAsync(Request("a"), Token);

        Assert.NotNull(result.Problem);
        Assert.Equal(expectedStatus, result.Problem.Status);
        Assert.Equal(expectedCode, result.Problem.Extensions["code"]?.ToString());
        Assert.Equal($"urn:problem:{expectedCode}", result.Problem.Type);
        if (expectedStatus >= 500 && trailerCode is null or "internal_error")
        {
            Assert.DoesNotContain("KeyError", $"{result.Problem.Title} {result.Problem.Detail}", StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Unavailable_that_python_inference_did_not_answer_is_retried_and_its_own_answers_are_not()
    {
        // A connection that broke (a proxy's UNAVAILABLE, no problem in the trailers): tried again, twice.
        _fake.Answer = _ => throw Failure(StatusCode.Unavailable, "connection reset", problemCode: null);
        var options = new InferenceOptions { MaxRetryAttempts = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10) };
        var client = new GrpcInferenceClient(new InferenceV1.Inference.InferenceClient(_channel!), Options.Create(options),
            new InferenceCallMetrics(_meters.Factory), NullLogger<GrpcInferenceClient>.Instance);

        var broken = await client.PredictAsync(Request("a"), Token);
        Assert.Equal("upstream_unavailable", broken.Problem?.Extensions["code"]?.ToString());
        Assert.Equal(3, _fake.Deadlines.Count);

        // python-inference's own UNAVAILABLE (overloaded, not ready) has decided: once.
        _fake.Deadlines.Clear();
        _fake.Answer = _ => throw Failure(StatusCode.Unavailable, "8 requests are already in progress", "overloaded");
        var refused = await client.PredictAsync(Request("a"), Token);
        Assert.Equal("overloaded", refused.Problem?.Extensions["code"]?.ToString());
        Assert.Single(_fake.Deadlines);

        // A stream the server reset (a stopping python-inference) reads as INTERNAL made up by the client: retried too.
        _fake.Deadlines.Clear();
        _fake.Answer = request => new InferenceV1.PredictBatchResponse { Model = request.Model, Version = "1.0.0" };
        _fake.AbortFirst = true;
        Assert.NotNull((await client.PredictAsync(Request("a"), Token)).Value);
        Assert.Equal(2, _fake.Deadlines.Count);

        // And a broken connection that heals on the retry is a success.
        _fake.Deadlines.Clear();
        var calls = 0;
        _fake.Answer = request => ++calls == 1
            ? throw Failure(StatusCode.Unavailable, "connection reset", problemCode: null)
            : new InferenceV1.PredictBatchResponse { Model = request.Model, Version = "1.0.0" };
        Assert.NotNull((await client.PredictAsync(Request("a"), Token)).Value);
        Assert.Equal(2, _fake.Deadlines.Count);
    }

    [Fact]
    public async Task Field_violations_become_the_problems_errors()
    {
        _fake.Answer = _ => throw Failure(StatusCode.InvalidArgument, "The request has 2 invalid fields: inputs[1], inputs[2].",
            "validation_failed",
            new BadRequest
            {
                FieldViolations =
                {
                    new BadRequest.Types.FieldViolation { Field = "inputs[1]", Description = "must be a string, got number" },
                    new BadRequest.Types.FieldViolation { Field = "inputs[2]", Description = "must not be empty or whitespace only" },
                    new BadRequest.Types.FieldViolation { Field = "inputs[2]", Description = "a second message" },
                },
            });

        var result = await Client().PredictAsync(Request("a"), Token);

        Assert.Equal(400, result.Problem?.Status);
        Assert.Equal("Bad Request", result.Problem?.Title);
        Assert.Equal("The request has 2 invalid fields: inputs[1], inputs[2].", result.Problem?.Detail);
        var errors = Assert.IsType<Dictionary<string, string[]>>(result.Problem?.Extensions["errors"]);
        Assert.Equal(["must be a string, got number"], errors["inputs[1]"]);
        Assert.Equal(["must not be empty or whitespace only", "a second message"], errors["inputs[2]"]);
    }

    [Fact]
    public async Task A_call_past_its_deadline_is_504_upstream_timeout()
    {
        _fake.Delay = TimeSpan.FromSeconds(1);

        var result = await Client(deadline: TimeSpan.FromMilliseconds(200)).PredictAsync(Request("a"), Token);

        Assert.Equal(504, result.Problem?.Status);
        Assert.Equal("upstream_timeout", result.Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task Every_call_carries_a_deadline()
    {
        _fake.Answer = request => new InferenceV1.PredictBatchResponse { Model = request.Model };

        await Client(deadline: TimeSpan.FromSeconds(3)).PredictAsync(Request("a"), Token);
        await Client(deadline: TimeSpan.FromSeconds(3)).ListModelsAsync(Token);

        Assert.Equal(2, _fake.Deadlines.Count);
        Assert.All(_fake.Deadlines, deadline => Assert.InRange(deadline - DateTime.UtcNow, TimeSpan.Zero, TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task Once_python_inference_cannot_be_reached_calls_are_answered_503_at_once_until_it_serves_again()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        // As the gateway's: no retry policy on the channel; the client retries broken connections, never refused ones.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var breaker = new GrpcInferenceDownBreaker(new Grpc.Health.V1.Health.HealthClient(channel), TimeProvider.System,
            NullLogger<GrpcInferenceDownBreaker>.Instance);
        // A back-off of seconds: a refused connection that was retried would show.
        var client = new GrpcInferenceClient(new InferenceV1.Inference.InferenceClient(channel),
            Options.Create(new InferenceOptions { MaxRetryAttempts = 2, RetryBaseDelay = TimeSpan.FromSeconds(5) }),
            new InferenceCallMetrics(_meters.Factory), NullLogger<GrpcInferenceClient>.Instance, breaker);

        var firstStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        var first = await client.PredictAsync(Request("a"), Token);
        Assert.Equal("upstream_unavailable", first.Problem?.Extensions["code"]?.ToString());
        Assert.True(breaker.IsDown);
        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(firstStarted) < TimeSpan.FromSeconds(2), "the refused call was not retried");

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < 20; i++)
        {
            var refused = await client.PredictAsync(Request("a"), Token);
            Assert.Equal(503, refused.Problem?.Status);
            Assert.Equal("upstream_unavailable", refused.Problem?.Extensions["code"]?.ToString());
        }

        // Each would otherwise try three connections with back-off between them (hundreds of milliseconds a call).
        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(started) < TimeSpan.FromMilliseconds(500));

        // python-inference comes back on its port: a health check (not a caller) finds it, and calls go through again.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(_fake);
        await using var back = builder.Build();
        back.MapGrpcService<FakeInference>();
        back.MapGrpcService<ServingHealth>();
        await back.StartAsync(Token);
        _fake.Answer = request => new InferenceV1.PredictBatchResponse
        {
            Model = request.Model, Version = "1.0.0", Predictions = { new InferenceV1.Prediction { Label = "a", Score = 0.5 } },
        };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        while (breaker.IsDown)
        {
            await Task.Delay(50, deadline.Token);
        }

        Assert.NotNull((await client.PredictAsync(Request("a"), Token)).Value);
    }

    private sealed class ServingHealth : Grpc.Health.V1.Health.HealthBase
    {
        public override Task<Grpc.Health.V1.HealthCheckResponse> Check(Grpc.Health.V1.HealthCheckRequest request, ServerCallContext context) =>
            Task.FromResult(new Grpc.Health.V1.HealthCheckResponse { Status = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving });
    }

    private sealed class ResponseComparer : IEqualityComparer<PredictionResponse>
    {
        public bool Equals(PredictionResponse? x, PredictionResponse? y) =>
            x is not null && y is not null && x.Model == y.Model && x.Version == y.Version && x.Predictions.SequenceEqual(y.Predictions);

        public int GetHashCode(PredictionResponse obj) => obj.Model.GetHashCode(StringComparison.Ordinal);
    }

    internal sealed class FakeInference : InferenceV1.Inference.InferenceBase
    {
        public Func<InferenceV1.PredictBatchRequest, InferenceV1.PredictBatchResponse> Answer { get; set; } =
            _ => new InferenceV1.PredictBatchResponse();

        public TimeSpan Delay { get; set; }

        public List<DateTime> Deadlines { get; } = [];

        /// <summary>The next call's stream is reset by the server (as a stopping one does), the one after it answered.</summary>
        public bool AbortFirst { get; set; }

        public override async Task<InferenceV1.PredictBatchResponse> PredictBatch(InferenceV1.PredictBatchRequest request,
            ServerCallContext context)
        {
            Deadlines.Add(context.Deadline);
            if (AbortFirst)
            {
                AbortFirst = false;
                context.GetHttpContext().Abort();
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
            }
            // Not cancelled with the call: the client's own deadline must end it.
            await Task.Delay(Delay, CancellationToken.None);
            return Answer(request);
        }

        public override Task<InferenceV1.ListModelsResponse> ListModels(InferenceV1.ListModelsRequest request, ServerCallContext context)
        {
            Deadlines.Add(context.Deadline);
            return Task.FromResult(new InferenceV1.ListModelsResponse());
        }
    }
}
