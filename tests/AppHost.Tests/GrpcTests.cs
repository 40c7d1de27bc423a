using System.Net.Sockets;
using Aspire.Hosting.Testing;
using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using InferenceV1 = global::Inference.V1;

namespace AppHost.Tests;

/// <summary>
/// python-inference's gRPC endpoint, called directly, against the gateway's REST API over HTTP/JSON: the same inputs
/// give the same labels and scores. (The Worker's jobs go over gRPC: JobTests cover that path.)
/// </summary>
public sealed class GrpcTests(AppHostFixture stack) : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("python-inference", "grpc"));

    public void Dispose() => _channel.Dispose();

    private InferenceV1.Inference.InferenceClient Inference => new(_channel);

    private async Task<List<(string Label, double Score)>> RestPredictionsAsync(string model, object inputs)
    {
        var response = await stack.Gateway.PostAsJsonAsync("/api/v1/predictions", new { model, inputs }, Token);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Token);
        return [.. body.GetProperty("predictions").EnumerateArray()
            .Select(p => (p.GetProperty("label").GetString()!, p.GetProperty("score").GetDouble()))];
    }

    [Fact]
    public async Task Sentiment_over_grpc_equals_the_gateways_rest_answer()
    {
        string[] texts = ["What a wonderful day, the team was brilliant.", "The product broke and support ignored me.", "Not bad at all"];
        var request = new InferenceV1.PredictBatchRequest { Model = "sentiment" };
        request.Inputs.AddRange(texts.Select(text => new InferenceV1.ModelInput { Text = text }));

        var response = await Inference.PredictBatchAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);

        Assert.Equal("sentiment", response.Model);
        Assert.Equal(await RestPredictionsAsync("sentiment", texts), [.. response.Predictions.Select(p => (p.Label, p.Score))]);
    }

    [Fact]
    public async Task Iris_over_grpc_equals_the_gateways_rest_answer()
    {
        double[][] flowers = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [6.0, 2.9, 4.5, 1.5]];
        var request = new InferenceV1.PredictBatchRequest { Model = "iris" };
        request.Inputs.AddRange(flowers.Select(values => new InferenceV1.ModelInput { Features = new InferenceV1.Features { Values = { values } } }));

        var response = await Inference.PredictBatchAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);

        Assert.Equal(await RestPredictionsAsync("iris", flowers), [.. response.Predictions.Select(p => (p.Label, p.Score))]);
    }

    [Fact]
    public async Task Invalid_inputs_over_grpc_carry_the_field_errors_of_the_rest_problem()
    {
        var request = new InferenceV1.PredictBatchRequest { Model = "sentiment" };
        request.Inputs.Add(new InferenceV1.ModelInput { Text = "fine" });
        request.Inputs.Add(new InferenceV1.ModelInput { Text = "   " });

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Inference.PredictBatchAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("validation_failed", error.Trailers.GetValue("problem-code"));
        var violation = Assert.Single(error.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations);
        var rest = await stack.Gateway.PostAsJsonAsync("/api/v1/predictions", new { model = "sentiment", inputs = new[] { "fine", "   " } }, Token);
        var problem = await rest.Content.ReadFromJsonAsync<JsonElement>(Token);
        Assert.Equal(HttpStatusCode.BadRequest, rest.StatusCode);
        Assert.Equal(problem.GetProperty("errors").GetProperty(violation.Field)[0].GetString(), violation.Description);
    }

    [Fact]
    public async Task The_grpc_health_service_reports_serving()
    {
        var response = await new Health.HealthClient(_channel).CheckAsync(
            new HealthCheckRequest { Service = "inference.v1.Inference" }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: Token);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Python_inference_closes_a_connection_after_its_age_and_calls_in_flight_carry_on_over_a_new_one()
    {
        var age = stack.InferenceConnectionAge ?? throw new InvalidOperationException("this stack keeps python-inference's default age");
        var connections = 0;
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                Interlocked.Increment(ref connections);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("python-inference", "grpc"), new GrpcChannelOptions { HttpHandler = handler });
        var inference = new InferenceV1.Inference.InferenceClient(channel);
        var answered = await PacedCallers.RunAsync(3.5 * age, async (caller, call) =>
        {
            var request = new InferenceV1.PredictBatchRequest { Model = "sentiment" };
            request.Inputs.Add(new InferenceV1.ModelInput { Text = $"caller {caller}, call {call}: a lovely quiet room" });
            var response = await inference.PredictBatchAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token);
            Assert.Single(response.Predictions);
        }, Token);

        Assert.All(answered, calls => Assert.True(calls > 0));
        Assert.True(connections >= 3, $"{connections} connection(s) over {3.5 * age.TotalSeconds} s of calls: python-inference did not close them at {age.TotalSeconds} s");
    }
}
