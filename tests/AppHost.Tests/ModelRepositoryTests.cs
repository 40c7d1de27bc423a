namespace AppHost.Tests;

/// <summary>
/// A model trained outside the stack and served by it (docs/models.md): this stack's python-inference serves the model
/// repository the fixture wrote with <c>python-inference/examples/train_wine.py</c>, and the example model <c>wine</c>
/// is listed, predicted through both gateways and both doors, checked, registered with the Worker and run as a job,
/// with no line of C# or of python-inference's code knowing it.
/// </summary>
public sealed class ModelRepositoryTests(AppHostFixture stack)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    // The first and the last wine of scikit-learn's wine data set: a class_0 and a class_2.
    private static readonly double[] FirstWine = [14.23, 1.71, 2.43, 15.6, 127, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065];
    private static readonly double[] LastWine = [14.13, 4.1, 2.74, 24.5, 96, 2.05, 0.76, 0.56, 1.35, 9.2, 0.61, 1.6, 560];

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_repositorys_model_is_listed_as_its_manifest_describes_it()
    {
        var manifest = await WineManifestAsync();

        var models = (await stack.Gateway.GetFromJsonAsync<JsonElement>("/api/v1/models", Token))
            .GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);

        Assert.Equal(["iris", "sentiment", "wine"], models.Keys.Order());
        var wine = models["wine"];
        Assert.Equal("1.0.0", wine.GetProperty("version").GetString());
        Assert.Equal("features", wine.GetProperty("inputKind").GetString());
        Assert.Equal(13, wine.GetProperty("featureCount").GetInt32());
        Assert.Equal(["class_0", "class_1", "class_2"], wine.GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(manifest.GetProperty("evaluation").GetProperty("held_out_accuracy").GetDouble(),
            wine.GetProperty("heldOutAccuracy").GetDouble());

        // The gateway on gRPC lists the same, field for field (feature counts and their absence included).
        using var grpc = stack.CreateGatewayClient(stack.Tokens.Create(), AppHostFixture.GrpcGateway);
        Assert.Equal((await stack.Gateway.GetFromJsonAsync<JsonElement>("/api/v1/models", Token)).GetRawText(),
            (await grpc.GetFromJsonAsync<JsonElement>("/api/v1/models", Token)).GetRawText());
    }

    [Theory]
    [InlineData("gateway")] // python-inference over HTTP/JSON
    [InlineData(AppHostFixture.GrpcGateway)] // over gRPC
    public async Task Both_gateways_predict_with_it_over_rest_and_json_rpc(string gateway)
    {
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(), gateway);

        var response = await client.PostAsJsonAsync("/api/v1/predictions", new { model = "wine", inputs = new[] { FirstWine, LastWine } }, Token);

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Token);
        Assert.Equal(("wine", "1.0.0"), (body.GetProperty("model").GetString(), body.GetProperty("version").GetString()));
        Assert.Equal(["class_0", "class_2"], body.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("label").GetString()));

        // One input: through the batcher, as a single REST prediction is.
        var rpc = await client.PostAsJsonAsync("/rpc",
            new { jsonrpc = "2.0", method = "predict", @params = new { model = "wine", inputs = new[] { LastWine } }, id = 1 }, Token);
        var result = (await rpc.Content.ReadFromJsonAsync<JsonElement>(Token)).GetProperty("result");
        Assert.Equal("class_2", result.GetProperty("predictions")[0].GetProperty("label").GetString());
    }

    [Fact]
    public async Task An_input_of_the_wrong_size_is_refused_naming_it_with_the_models_own_rule_over_rest_and_json_rpc()
    {
        var response = await stack.Gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "wine", inputs = new[] { FirstWine, FirstWine[..12] } }, Token);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.Equal("must be a list of 13 numbers, got 12 items",
            problem.GetProperty("errors").GetProperty("inputs[1]")[0].GetString());

        // JSON-RPC: invalid params, with the same field errors.
        var rpc = await stack.Gateway.PostAsJsonAsync("/rpc", new
        {
            jsonrpc = "2.0", method = "predict", @params = new { model = "wine", inputs = new[] { FirstWine, FirstWine[..12] } }, id = 2,
        }, Token);
        var error = (await rpc.Content.ReadFromJsonAsync<JsonElement>(Token)).GetProperty("error");
        Assert.Equal(-32602, error.GetProperty("code").GetInt32());
        Assert.Equal("must be a list of 13 numbers, got 12 items",
            error.GetProperty("data").GetProperty("errors").GetProperty("inputs[1]")[0].GetString());
    }

    [Fact]
    public async Task Python_inference_registered_it_with_the_workers_registry()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(Long);
        JsonElement listed;
        while (true)
        {
            var response = await stack.Gateway.GetAsync("/api/v1/models/wine/versions", timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                listed = await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), timeout.Token);
        }

        var version = Assert.Single(listed.GetProperty("versions").EnumerateArray());
        Assert.Equal("1.0.0", version.GetProperty("version").GetString());
        var manifest = await WineManifestAsync();
        Assert.Equal(manifest.GetProperty("artifact_sha256").GetString(), version.GetProperty("artifactSha256").GetString());
    }

    [Fact]
    public async Task A_job_for_it_runs_through_the_worker()
    {
        var submitted = await stack.Gateway.PostAsJsonAsync("/api/v1/jobs", new { model = "wine", inputs = new[] { LastWine, FirstWine } }, Token);
        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);

        var job = await JobTests.WaitUntilFinishedAsync(stack.Gateway, submitted.Headers.Location!.OriginalString);
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(["class_2", "class_0"],
            job.GetProperty("result").GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("label").GetString()));
    }

    /// <summary>The example's manifest, as the fixture's run of examples.train_wine wrote it.</summary>
    private async Task<JsonElement> WineManifestAsync() =>
        JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(
            stack.ModelRepository ?? throw new InvalidOperationException("This stack serves no model repository."),
            "wine", "1.0.0", "model.json"), Token)).RootElement;
}
