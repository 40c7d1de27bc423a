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
}
