namespace AppHost.Tests;

/// <summary>
/// The gateway over HTTP/JSON (<c>gateway</c>) and over gRPC (<c>gateway-grpc</c>, <c>Inference:Transport=Grpc</c>)
/// against the same python-inference: identical answers, identical problems.
/// </summary>
public sealed class GatewayTransportTests(AppHostFixture stack)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private async Task<(HttpResponseMessage Http, HttpResponseMessage Grpc)> BothAsync(object body)
    {
        using var grpc = stack.CreateGatewayClient(stack.Tokens.Create(), AppHostFixture.GrpcGateway);
        return (await stack.Gateway.PostAsJsonAsync("/api/v1/predictions", body, Token),
                await grpc.PostAsJsonAsync("/api/v1/predictions", body, Token));
    }

    [Fact]
    public async Task Both_transports_give_the_same_labels_and_scores()
    {
        var texts = new[] { "Absolutely loved it.", "Terrible, never again.", "It was fine, I suppose.", "Not bad at all." };
        var flowers = new[] { new[] { 5.1, 3.5, 1.4, 0.2 }, new[] { 6.7, 3.0, 5.2, 2.3 }, new[] { 5.9, 3.0, 4.2, 1.5 } };

        foreach (var body in new object[] { new { model = "sentiment", inputs = texts }, new { model = "iris", inputs = flowers } })
        {
            var (http, grpc) = await BothAsync(body);
            Assert.Equal(HttpStatusCode.OK, http.StatusCode);
            Assert.Equal(HttpStatusCode.OK, grpc.StatusCode);
            var viaHttp = await http.Content.ReadFromJsonAsync<JsonElement>(Token);
            var viaGrpc = await grpc.Content.ReadFromJsonAsync<JsonElement>(Token);
            Assert.Equal(viaHttp.GetProperty("version").GetString(), viaGrpc.GetProperty("version").GetString());
            Assert.Equal(viaHttp.GetProperty("predictions").GetRawText(), viaGrpc.GetProperty("predictions").GetRawText());
        }
    }

    [Fact]
    public async Task Both_transports_give_the_same_problems()
    {
        var (httpUnknown, grpcUnknown) = await BothAsync(new { model = "unicorn", inputs = new[] { "x" } });
        var (httpKind, grpcKind) = await BothAsync(new { model = "iris", inputs = new object[] { "not numbers" } });

        await Problems.AssertProblemAsync(httpUnknown, HttpStatusCode.NotFound, "model_not_found");
        await Problems.AssertProblemAsync(grpcUnknown, HttpStatusCode.NotFound, "model_not_found");
        var httpErrors = (await Problems.AssertProblemAsync(httpKind, HttpStatusCode.BadRequest, "validation_failed")).GetProperty("errors");
        var grpcErrors = (await Problems.AssertProblemAsync(grpcKind, HttpStatusCode.BadRequest, "validation_failed")).GetProperty("errors");
        Assert.Equal(httpErrors.GetRawText(), grpcErrors.GetRawText()); // field violations survive the gRPC trip
    }

    [Fact]
    public async Task The_grpc_gateway_reaches_python_over_grpc_and_the_http_one_over_http()
    {
        // Equal answers could come from either transport; the traces show which one each gateway used.
        var viaGrpc = Traces.NewTraceId();
        var viaHttp = Traces.NewTraceId();
        var body = new { model = "sentiment", inputs = new[] { "A delightful little place." } };
        using var grpc = stack.CreateGatewayClient(stack.Tokens.Create(), AppHostFixture.GrpcGateway);
        using (var request = Traces.Traced(HttpMethod.Post, "/api/v1/predictions", viaGrpc, body))
        {
            Assert.Equal(HttpStatusCode.OK, (await grpc.SendAsync(request, Token)).StatusCode);
        }

        using (var request = Traces.Traced(HttpMethod.Post, "/api/v1/predictions", viaHttp, body))
        {
            Assert.Equal(HttpStatusCode.OK, (await stack.Gateway.SendAsync(request, Token)).StatusCode);
        }

        static TraceSpan? PythonServer(IReadOnlyList<TraceSpan> spans) =>
            spans.FirstOrDefault(s => s.Service == "python-inference" && s.Kind == TraceSpan.SpanKind.Server
                                      && spans.Any(parent => parent.SpanId == s.ParentSpanId));

        var grpcTrace = await Traces.WaitForAsync(stack.Dashboard, viaGrpc, spans => PythonServer(spans) is not null,
            "python-inference's server span under a gateway-grpc span");
        var grpcServer = PythonServer(grpcTrace)!;
        var grpcClient = grpcTrace.Single(s => s.SpanId == grpcServer.ParentSpanId);
        Assert.Equal(AppHostFixture.GrpcGateway, grpcClient.Service);
        Assert.Equal(TraceSpan.SpanKind.Client, grpcClient.Kind);
        Assert.Equal("grpc", grpcServer.Attributes.GetValueOrDefault("rpc.system"));
        Assert.Equal("inference.v1.Inference/PredictBatch", grpcServer.Name);
        Assert.DoesNotContain(grpcTrace, s => s.Service == "python-inference" && s.Name.StartsWith("POST ", StringComparison.Ordinal));

        var httpTrace = await Traces.WaitForAsync(stack.Dashboard, viaHttp, spans => PythonServer(spans) is not null,
            "python-inference's server span under a gateway span");
        var httpServer = PythonServer(httpTrace)!;
        Assert.Equal("gateway", httpTrace.Single(s => s.SpanId == httpServer.ParentSpanId).Service);
        Assert.Equal("POST /v1/predict", httpServer.Name);
        Assert.False(httpServer.Attributes.ContainsKey("rpc.system"));
    }

    [Fact]
    public async Task The_grpc_gateways_predictions_carry_on_while_python_inference_closes_its_connections()
    {
        // python-inference closes every gRPC connection after InferenceConnectionAge (this stack: 2 s); the gateway's
        // channel must move its calls to a new connection without one of them failing.
        var age = stack.InferenceConnectionAge ?? throw new InvalidOperationException("this stack keeps python-inference's default age");
        using var grpc = stack.CreateGatewayClient(stack.Tokens.Create(), AppHostFixture.GrpcGateway);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();

        var answered = await PacedCallers.RunAsync(3.5 * age, async (caller, call) =>
        {
            var body = new { model = "sentiment", inputs = new[] { $"caller {caller}, call {call}: friendly staff" } };
            var response = await grpc.PostAsJsonAsync("/api/v1/predictions", body, Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                failures.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Token)}");
            }
        }, Token);

        Assert.Empty(failures);
        Assert.True(answered.Sum() >= 4 * 3.5 * age.TotalSeconds, $"only {answered.Sum()} predictions in {3.5 * age.TotalSeconds} s");
    }
}
