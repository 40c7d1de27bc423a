using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Tests.Metrics;
using Worker.Inference;
using static Tests.Contracts.RpcFailures;

namespace Worker.Tests.Inference;

/// <summary>What a gRPC status means for a job: final (the job fails with the problem) or worth another attempt.</summary>
public sealed class GrpcInferenceClientTests
{
    [Theory]
    [InlineData(StatusCode.InvalidArgument, "validation_failed", 400)]
    [InlineData(StatusCode.InvalidArgument, "batch_too_large", 400)]
    [InlineData(StatusCode.NotFound, "model_not_found", 404)]
    public void Invalid_argument_and_not_found_reject_the_job_with_the_upstream_problem(StatusCode status, string code, int expected)
    {
        var outcome = GrpcInferenceClient.Classify(Failure(status, "Unknown model 'unicorn'.", code));

        var rejected = Assert.IsType<InferenceOutcome.Rejected>(outcome);
        Assert.Equal(expected, rejected.Problem.Status);
        Assert.Equal(code, rejected.Problem.Extensions["code"]?.ToString());
        Assert.Equal($"urn:problem:{code}", rejected.Problem.Type);
        Assert.Equal("Unknown model 'unicorn'.", rejected.Problem.Detail);
    }

    [Theory]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.DeadlineExceeded)]
    [InlineData(StatusCode.Internal)]
    [InlineData(StatusCode.Unknown)]
    public void Other_statuses_leave_the_job_for_another_attempt(StatusCode status)
    {
        var outcome = GrpcInferenceClient.Classify(Failure(status, "KeyError", null));

        var unavailable = Assert.IsType<InferenceOutcome.Unavailable>(outcome);
        Assert.Contains(status.ToString(), unavailable.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stream_the_stopping_python_inference_reset_is_an_unreachable_python_inference_not_an_attempt()
    {
        var reset = new HttpRequestException(HttpRequestError.HttpProtocolError, "The HTTP/2 server reset the stream.");
        var outcome = GrpcInferenceClient.Classify(new RpcException(new Grpc.Core.Status(StatusCode.Internal, "Error starting gRPC call.", reset)));

        Assert.True(Assert.IsType<InferenceOutcome.Unavailable>(outcome).Unreachable);
        // INTERNAL that python-inference answered is an attempt.
        Assert.False(Assert.IsType<InferenceOutcome.Unavailable>(GrpcInferenceClient.Classify(Failure(StatusCode.Internal, "KeyError", "internal_error"))).Unreachable);
    }

    [Fact]
    public void Field_violations_become_the_problems_errors()
    {
        var badRequest = new BadRequest
        {
            FieldViolations = { new BadRequest.Types.FieldViolation { Field = "inputs[1]", Description = "must be a string, got number" } },
        };

        var outcome = GrpcInferenceClient.Classify(Failure(StatusCode.InvalidArgument, "The request has 1 invalid field: inputs[1].",
            "validation_failed", badRequest));

        var problem = Assert.IsType<InferenceOutcome.Rejected>(outcome).Problem;
        var errors = Assert.IsType<Dictionary<string, string[]>>(problem.Extensions["errors"]);
        Assert.Equal(["must be a string, got number"], errors["inputs[1]"]);
    }

    [Fact]
    public void A_status_without_a_problem_code_gets_the_code_of_its_http_status()
    {
        var problem = Assert.IsType<InferenceOutcome.Rejected>(GrpcInferenceClient.Classify(Failure(StatusCode.NotFound, "gone", null))).Problem;

        Assert.Equal("not_found", problem.Extensions["code"]?.ToString());
    }

    [Fact]
    public void Inputs_keep_their_kind_and_other_json_values_travel_as_they_are()
    {
        var inputs = JsonElement.Parse("""["text", [6.7, 3.0, 5.2, 2.3], true, [1, "a"]]""").EnumerateArray()
            .Select(global::Inference.V1.ModelInput.FromJson).ToList();

        Assert.Equal("text", inputs[0].Text);
        Assert.Equal([6.7, 3.0, 5.2, 2.3], inputs[1].Features.Values);
        Assert.True(inputs[2].Other.BoolValue);
        Assert.Equal(Value.KindOneofCase.ListValue, inputs[3].Other.KindCase);
    }

    /// <summary>python-inference's PredictStream as a stand-in: each text's label is the text, in chunks of two; "bad" is INVALID_ARGUMENT.</summary>
    private sealed class FakeInference : global::Inference.V1.Inference.InferenceClient
    {
        public List<string[]> Calls { get; } = [];

        public override AsyncServerStreamingCall<global::Inference.V1.PredictStreamResponse> PredictStream(
            global::Inference.V1.PredictBatchRequest request, CallOptions options)
        {
            var texts = request.Inputs.Select(input => input.Text).ToArray();
            Calls.Add(texts);
            var chunks = texts.Chunk(2).Select((chunk, i) => new global::Inference.V1.PredictStreamResponse
            {
                Model = request.Model,
                Version = "v1",
                Offset = (uint)(i * 2),
                Predictions = { chunk.Select(text => new global::Inference.V1.Prediction { Label = text, Score = 0.5 }) },
            }).ToList();
            var failure = texts.Contains("bad") ? Failure(StatusCode.InvalidArgument, "inputs[0] is bad", "validation_failed") : null;
            return new AsyncServerStreamingCall<global::Inference.V1.PredictStreamResponse>(new Stream(chunks, failure),
                Task.FromResult(new Metadata()), () => Grpc.Core.Status.DefaultSuccess, () => [], () => { });
        }

        private sealed class Stream(List<global::Inference.V1.PredictStreamResponse> chunks, RpcException? failure)
            : IAsyncStreamReader<global::Inference.V1.PredictStreamResponse>
        {
            private int _next = -1;

            public global::Inference.V1.PredictStreamResponse Current => chunks[_next];

            public Task<bool> MoveNext(CancellationToken cancellationToken) =>
                failure is not null ? Task.FromException<bool>(failure) : Task.FromResult(++_next < chunks.Count);
        }
    }

    private static JsonElement Texts(params string[] texts) => JsonSerializer.SerializeToElement(texts);

    private static GrpcInferenceClient Client(FakeInference fake) =>
        new(fake, Microsoft.Extensions.Options.Options.Create(new InferenceOptions()), new InferenceCallMetrics(UncheckedMeters.Factory));

    private static readonly MeterCapture UncheckedMeters = new();

    [Fact]
    public async Task Several_jobs_are_one_call_and_each_gets_exactly_its_own_predictions()
    {
        var fake = new FakeInference();

        var outcomes = await Client(fake).PredictManyAsync("sentiment", [Texts("a"), Texts("b", "c", "d"), Texts("e")],
            TestContext.Current.CancellationToken);

        Assert.Equal([["a", "b", "c", "d", "e"]], fake.Calls);
        var labels = outcomes.Select(outcome => Assert.IsType<InferenceOutcome.Succeeded>(outcome).Response)
            .Select(result => string.Join(",", result.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("label").GetString())))
            .ToList();
        Assert.Equal(["a", "b,c,d", "e"], labels);
        Assert.All(outcomes, outcome => Assert.Equal("v1",
            ((InferenceOutcome.Succeeded)outcome).Response.GetProperty("version").GetString()));
    }

    [Fact]
    public async Task A_bad_input_fails_only_its_own_job_when_the_combined_call_is_refused()
    {
        var fake = new FakeInference();

        var outcomes = await Client(fake).PredictManyAsync("sentiment", [Texts("a"), Texts("bad"), Texts("c")],
            TestContext.Current.CancellationToken);

        Assert.Equal([["a", "bad", "c"], ["a"], ["bad"], ["c"]], fake.Calls);
        Assert.IsType<InferenceOutcome.Succeeded>(outcomes[0]);
        Assert.Equal("validation_failed", Assert.IsType<InferenceOutcome.Rejected>(outcomes[1]).Problem.Extensions["code"]?.ToString());
        Assert.IsType<InferenceOutcome.Succeeded>(outcomes[2]);
    }
}
