namespace AppHost.Tests;

public sealed class PredictionTests(AppHostFixture stack)
{
    private readonly HttpClient _gateway = stack.Gateway;

    [Fact]
    public async Task Predict_labels_clearly_positive_and_negative_sentences()
    {
        var response = await _gateway.PostAsJsonAsync("/api/v1/predictions", new
        {
            model = "sentiment",
            inputs = new[]
            {
                "What a wonderful day, the team was brilliant and I am so happy with the result.",
                "This was a terrible experience, the product broke and support ignored me.",
            },
        }, TestContext.Current.CancellationToken);

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal("sentiment", body.GetProperty("model").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));
        var predictions = body.GetProperty("predictions").EnumerateArray().ToArray();
        Assert.Equal(2, predictions.Length);
        Assert.Equal("positive", predictions[0].GetProperty("label").GetString());
        Assert.Equal("negative", predictions[1].GetProperty("label").GetString());
        Assert.All(predictions, p => Assert.InRange(p.GetProperty("score").GetDouble(), 0.5, 1.0));
    }

    [Fact]
    public async Task Predict_shortcut_classifies_one_text_with_the_default_model()
    {
        var body = await _gateway.GetFromJsonAsync<JsonElement>(
            "/predict?text=" + Uri.EscapeDataString("I really enjoyed this, thank you so much!"),
            TestContext.Current.CancellationToken);

        Assert.Equal("sentiment", body.GetProperty("model").GetString());
        Assert.Equal("positive", body.GetProperty("predictions")[0].GetProperty("label").GetString());
    }

    [Fact]
    public async Task Predict_with_iris_measurements_returns_species()
    {
        var response = await _gateway.PostAsJsonAsync("/api/v1/predictions", new
        {
            model = "iris",
            inputs = new[] { new[] { 5.1, 3.5, 1.4, 0.2 }, new[] { 6.7, 3.0, 5.2, 2.3 } },
        }, TestContext.Current.CancellationToken);

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var labels = body.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("label").GetString());
        Assert.Equal(["setosa", "virginica"], labels);
    }

    [Fact]
    public async Task Models_lists_both_models_with_their_held_out_accuracy()
    {
        var body = await _gateway.GetFromJsonAsync<JsonElement>("/api/v1/models", TestContext.Current.CancellationToken);

        var models = body.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.Equal("text", models["sentiment"].GetProperty("inputKind").GetString());
        Assert.Equal("features", models["iris"].GetProperty("inputKind").GetString());
        Assert.Equal(4, models["iris"].GetProperty("featureCount").GetInt32());
        Assert.Equal(JsonValueKind.Null, models["sentiment"].GetProperty("featureCount").ValueKind);
        Assert.Equal(["negative", "positive"], models["sentiment"].GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
        Assert.InRange(models["sentiment"].GetProperty("heldOutAccuracy").GetDouble(), 0.75, 1.0);
        Assert.InRange(models["iris"].GetProperty("heldOutAccuracy").GetDouble(), 0.85, 1.0);
    }
}
