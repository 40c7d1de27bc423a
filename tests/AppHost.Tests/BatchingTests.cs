namespace AppHost.Tests;

/// <summary>
/// Dynamic batching against the real python-inference, through both gateways (HTTP/JSON and gRPC transports):
/// concurrent single predictions share batch calls, yet each caller gets exactly its own answer or its own problem.
/// </summary>
public sealed class BatchingTests(AppHostFixture stack)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static TheoryData<string> Gateways => new("gateway", AppHostFixture.GrpcGateway);

    /// <summary>Iris measurements no two alike, so a caller handed a neighbour's answer shows in the score.</summary>
    private static double[][] Flowers(int count) =>
    [
        .. Enumerable.Range(0, count).Select(i => new[]
        {
            4.3 + (i % 37) * 0.1, 2.0 + (i % 23) * 0.1, 1.0 + (i % 59) * 0.1, 0.1 + (i % 25) * 0.1,
        }),
    ];

    private static string[] Reviews(int count) =>
    [
        .. Enumerable.Range(0, count).Select(i => i % 2 == 0
            ? $"Review {i}: wonderful stay, lovely staff, {i % 7} stars would come back."
            : $"Review {i}: dirty room, rude staff, broken shower number {i % 5}."),
    ];

    /// <summary>The predictions of whole batches of 100 (a request of several inputs is never batched with others).</summary>
    private static async Task<List<(string Label, double Score)>> ExpectedAsync(HttpClient gateway, string model, IEnumerable<object> inputs)
    {
        var expected = new List<(string, double)>();
        foreach (var chunk in inputs.Chunk(100))
        {
            var response = await gateway.PostAsJsonAsync("/api/v1/predictions", new { model, inputs = chunk }, Token);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(Token);
            expected.AddRange(body.GetProperty("predictions").EnumerateArray()
                .Select(p => (p.GetProperty("label").GetString()!, p.GetProperty("score").GetDouble())));
        }

        return expected;
    }

    /// <summary>A 200's body; any other answer fails the test with what it said.</summary>
    private static async Task<JsonElement> AnswerAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(Token);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static (string Label, double Score) Single(JsonElement body)
    {
        var prediction = Assert.Single(body.GetProperty("predictions").EnumerateArray());
        return (prediction.GetProperty("label").GetString()!, prediction.GetProperty("score").GetDouble());
    }

    [Theory]
    [MemberData(nameof(Gateways))]
    public async Task A_thousand_concurrent_single_predictions_each_get_their_own_label_and_score(string gatewayName)
    {
        using var gateway = stack.CreateGatewayClient(stack.Tokens.Create(), gatewayName);
        var flowers = Flowers(800);
        var reviews = Reviews(200);
        var expectedFlowers = await ExpectedAsync(gateway, "iris", flowers);
        var expectedReviews = await ExpectedAsync(gateway, "sentiment", reviews);

        // Three doors, all at once: POST with one input, JSON-RPC predict with one input, GET /predict?text=.
        var flowerAnswers = flowers.Select(async (flower, i) =>
        {
            if (i % 2 == 0)
            {
                return Single(await AnswerAsync(await gateway.PostAsJsonAsync("/api/v1/predictions",
                    new { model = "iris", inputs = new[] { flower } }, Token)));
            }

            var rpc = await AnswerAsync(await gateway.PostAsJsonAsync("/rpc",
                new { jsonrpc = "2.0", method = "predict", @params = new { model = "iris", inputs = new[] { flower } }, id = i }, Token));
            Assert.True(rpc.TryGetProperty("result", out var result), $"JSON-RPC predict #{i} answered {rpc}");
            return Single(result);
        }).ToList();
        var reviewAnswers = reviews.Select(async review =>
            Single(await AnswerAsync(await gateway.GetAsync("/predict?text=" + Uri.EscapeDataString(review), Token)))).ToList();

        var gotFlowers = await Task.WhenAll(flowerAnswers);
        var gotReviews = await Task.WhenAll(reviewAnswers);

        AssertSame(expectedFlowers, gotFlowers);
        AssertSame(expectedReviews, gotReviews);
        Assert.Contains(gotReviews, answer => answer.Label == "positive");
        Assert.Contains(gotReviews, answer => answer.Label == "negative");
    }

    private static void AssertSame(List<(string Label, double Score)> expected, (string Label, double Score)[] got)
    {
        Assert.Equal(expected.Count, got.Length);
        var wrong = Enumerable.Range(0, got.Length)
            .Where(i => got[i].Label != expected[i].Label || Math.Abs(got[i].Score - expected[i].Score) > 1e-6)
            .Select(i => $"#{i}: {got[i]} instead of {expected[i]}").ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} callers got another answer than their own: {string.Join("; ", wrong.Take(5))}");
    }

    [Theory]
    [MemberData(nameof(Gateways))]
    public async Task A_bad_input_among_good_ones_gets_its_own_problem_and_the_others_their_predictions(string gatewayName)
    {
        using var gateway = stack.CreateGatewayClient(stack.Tokens.Create(), gatewayName);
        var good = Flowers(40);
        var expected = await ExpectedAsync(gateway, "iris", good);
        object[] bad = [new[] { 5.1, 3.5, 1.4 }, "petals"];

        var goodCalls = good.Select(flower =>
            gateway.PostAsJsonAsync("/api/v1/predictions", new { model = "iris", inputs = new[] { flower } }, Token)).ToList();
        var badCalls = bad.Select(input =>
            gateway.PostAsJsonAsync("/api/v1/predictions", new { model = "iris", inputs = new[] { input } }, Token)).ToList();
        var goodResponses = await Task.WhenAll(goodCalls);
        var badResponses = await Task.WhenAll(badCalls);

        foreach (var response in badResponses)
        {
            var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
            Assert.Equal(["inputs[0]"], problem.GetProperty("errors").EnumerateObject().Select(error => error.Name));
        }

        Assert.All(goodResponses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        var got = await Task.WhenAll(goodResponses.Select(async response => Single(await response.Content.ReadFromJsonAsync<JsonElement>(Token))));
        AssertSame(expected, got);
    }
}
