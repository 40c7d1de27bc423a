using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tests.Metrics;
using Worker.Inference;

namespace Worker.Tests.Inference;

/// <summary>
/// Jobs wait for an unreachable python-inference instead of spending attempts on it, within a bound; a python-inference
/// that is there but slow or failing is an attempt as before.
/// </summary>
public sealed class OutageWaitingInferenceClientTests
{
    private static readonly JsonElement Inputs = JsonSerializer.SerializeToElement(new[] { "hello" });

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_refused_grpc_connection_is_an_unreachable_python_inference()
    {
        // A real channel to a loopback port where nothing listens.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{TestHarness.LoopbackPorts.FreeOnBoth()}");
        var client = new GrpcInferenceClient(new global::Inference.V1.Inference.InferenceClient(channel),
            Options.Create(new InferenceOptions()), new InferenceCallMetrics(new MeterCapture().Factory));

        var outcome = await client.PredictAsync("sentiment", Inputs, Token);

        Assert.True(Assert.IsType<InferenceOutcome.Unavailable>(outcome).Unreachable);
    }

    [Theory]
    [InlineData("not_ready", true)]
    [InlineData("overloaded", false)]
    public void Unavailable_answered_by_python_inference_is_unreachable_only_while_it_is_not_ready(string code, bool unreachable)
    {
        var outcome = GrpcInferenceClient.Classify(new RpcException(new Status(StatusCode.Unavailable, "x"),
            new Metadata { { "problem-code", code } }));

        Assert.Equal(unreachable, Assert.IsType<InferenceOutcome.Unavailable>(outcome).Unreachable);
    }

    [Theory]
    [InlineData(StatusCode.Unavailable, true)]
    [InlineData(StatusCode.Cancelled, true)] // python-inference stopped mid-call (the Worker's own cancellation never gets here)
    [InlineData(StatusCode.DeadlineExceeded, false)]
    [InlineData(StatusCode.Internal, false)]
    public void Unavailable_or_a_call_python_inference_cancelled_means_unreachable(StatusCode status, bool unreachable)
    {
        var outcome = GrpcInferenceClient.Classify(new RpcException(new Status(status, "x")));

        Assert.Equal(unreachable, Assert.IsType<InferenceOutcome.Unavailable>(outcome).Unreachable);
    }

    [Fact]
    public async Task A_batch_waits_for_python_inference_to_return_and_then_succeeds_without_a_failed_attempt()
    {
        var transport = new Scripted(unreachableCalls: 3);

        var outcomes = await Waiting(transport, wait: TimeSpan.FromSeconds(30), probe: TimeSpan.FromMilliseconds(20))
            .PredictManyAsync("sentiment", [Inputs, Inputs], Token);

        Assert.All(outcomes, outcome => Assert.IsType<InferenceOutcome.Succeeded>(outcome));
        Assert.Equal(4, transport.Calls);
    }

    [Fact]
    public async Task A_slow_or_failing_python_inference_is_not_waited_for()
    {
        var transport = new Scripted(unreachableCalls: 0, failingCalls: 5);

        var outcome = await Waiting(transport, wait: TimeSpan.FromSeconds(30), probe: TimeSpan.FromMilliseconds(20))
            .PredictAsync("sentiment", Inputs, Token);

        Assert.False(Assert.IsType<InferenceOutcome.Unavailable>(outcome).Unreachable);
        Assert.Equal(1, transport.Calls);
    }

    [Fact]
    public async Task The_wait_is_bounded_and_then_the_attempt_fails_as_before()
    {
        var transport = new Scripted(unreachableCalls: int.MaxValue);
        var started = TimeProvider.System.GetTimestamp();

        var outcome = await Waiting(transport, wait: TimeSpan.FromMilliseconds(300), probe: TimeSpan.FromMilliseconds(50))
            .PredictAsync("sentiment", Inputs, Token);

        Assert.True(Assert.IsType<InferenceOutcome.Unavailable>(outcome).Unreachable);
        Assert.InRange(transport.Calls, 2, 7);
        Assert.InRange(TimeProvider.System.GetElapsedTime(started), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_stopping_worker_stops_waiting_and_leaves_the_job_to_its_retry()
    {
        var transport = new Scripted(unreachableCalls: int.MaxValue);
        using var stopping = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var started = TimeProvider.System.GetTimestamp();

        var outcome = await Waiting(transport, wait: TimeSpan.FromMinutes(5), probe: TimeSpan.FromMilliseconds(50), stopping.Token)
            .PredictAsync("sentiment", Inputs, Token);

        Assert.True(Assert.IsType<InferenceOutcome.Unavailable>(outcome).Unreachable);
        Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task With_no_wait_configured_an_unreachable_python_inference_fails_the_attempt_at_once()
    {
        var transport = new Scripted(unreachableCalls: int.MaxValue);

        var outcome = await Waiting(transport, wait: TimeSpan.Zero, probe: TimeSpan.FromMilliseconds(20))
            .PredictAsync("sentiment", Inputs, Token);

        Assert.IsType<InferenceOutcome.Unavailable>(outcome);
        Assert.Equal(1, transport.Calls);
    }

    private static OutageWaitingInferenceClient Waiting(IInferenceClient transport, TimeSpan wait, TimeSpan probe,
        CancellationToken stopping = default) =>
        new(transport, Options.Create(new InferenceOptions { UnreachableWait = wait, UnreachableProbeInterval = probe }),
            TimeProvider.System, NullLogger<OutageWaitingInferenceClient>.Instance, stopping);

    /// <summary>python-inference unreachable for its first calls, then failing (answering 5xx) for some, then answering.</summary>
    private sealed class Scripted(int unreachableCalls, int failingCalls = 0) : IInferenceClient
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        // One call for the whole batch, as the gRPC client makes it.
        public async Task<IReadOnlyList<InferenceOutcome>> PredictManyAsync(string model, IReadOnlyList<JsonElement> inputs,
            CancellationToken cancellationToken)
        {
            var outcome = await PredictAsync(model, inputs[0], cancellationToken);
            return [.. inputs.Select(_ => outcome)];
        }

        public Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref _calls);
            return Task.FromResult<InferenceOutcome>(call <= unreachableCalls
                ? new InferenceOutcome.Unavailable("connection refused", Unreachable: true)
                : call - unreachableCalls <= failingCalls
                    ? new InferenceOutcome.Unavailable("python-inference answered 500.")
                    : new InferenceOutcome.Succeeded(JsonSerializer.SerializeToElement(new { model, version = "1", predictions = Array.Empty<object>() })));
        }
    }
}
