namespace AppHost.Tests;

/// <summary>The jobs path end to end; <see cref="JobTestsOnPostgres"/> runs the same tests on the PostgreSQL stack.</summary>
public class JobTests(AppHostFixture stack)
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(60);
    private readonly HttpClient _gateway = stack.Gateway;

    [Fact]
    public async Task Job_is_accepted_processed_and_readable()
    {
        var submitted = await _gateway.PostAsJsonAsync("/api/v1/jobs", new
        {
            model = "sentiment",
            inputs = new[] { "Absolutely loved it, would recommend to everyone.", "Awful, a complete waste of money." },
        }, TestContext.Current.CancellationToken);

        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);
        var accepted = await submitted.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var id = accepted.GetProperty("id").GetGuid();
        Assert.Equal("queued", accepted.GetProperty("status").GetString());
        Assert.Equal($"/api/v1/jobs/{id}", submitted.Headers.Location?.OriginalString);

        var job = await WaitUntilFinishedAsync(submitted.Headers.Location!.OriginalString);
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.True(job.GetProperty("attempts").GetInt32() >= 1);
        var labels = job.GetProperty("result").GetProperty("predictions").EnumerateArray()
            .Select(p => p.GetProperty("label").GetString());
        Assert.Equal(["positive", "negative"], labels);
    }

    [Fact]
    public async Task Job_for_an_unknown_model_ends_failed_with_the_models_problem()
    {
        var submitted = await _gateway.PostAsJsonAsync("/api/v1/jobs",
            new { model = "no-such-model", inputs = new[] { "hello" } }, TestContext.Current.CancellationToken);
        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);

        var job = await WaitUntilFinishedAsync(submitted.Headers.Location!.OriginalString);
        Assert.Equal("failed", job.GetProperty("status").GetString());
        Assert.Equal("model_not_found", job.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Null, job.GetProperty("result").ValueKind);
    }

    [Fact]
    public async Task Unknown_job_is_404_problem()
    {
        var response = await _gateway.GetAsync($"/api/v1/jobs/{Guid.NewGuid()}", TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "job_not_found");
    }

    [Fact]
    public async Task Job_without_inputs_is_rejected_by_the_gateway_without_reaching_the_worker()
    {
        var traceId = Traces.NewTraceId();
        using var request = Traces.Traced(HttpMethod.Post, "/api/v1/jobs", traceId, new { model = "sentiment", inputs = Array.Empty<string>() });
        var response = await _gateway.SendAsync(request, TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("inputs", out _));
        // The gateway's server span ends after any call it made, and is exported with or after it: once it is in,
        // a call to the Worker would be too. The trace holds the gateway's request and nothing else.
        var spans = await Traces.WaitForAsync(stack.Dashboard, traceId,
            found => found.Any(s => s.Service == "gateway" && s.Kind == TraceSpan.SpanKind.Server), "the gateway's server span");
        Assert.All(spans, span => Assert.Equal("gateway", span.Service));
        Assert.DoesNotContain(spans, span => span.Kind == TraceSpan.SpanKind.Client);
    }

    [Fact]
    public async Task A_job_of_250_inputs_comes_back_whole_and_in_order()
    {
        // python-inference answers at most 100 inputs per chunk; the Worker puts the chunks back together. Three
        // sentences in turn (250 and the chunk size are not multiples of 3): a lost, doubled or reordered chunk
        // shifts the pattern.
        var sentences = new[] { "Absolutely loved it, would recommend to everyone.", "Awful, a complete waste of money.", "It was fine, I suppose." };
        var inputs = Enumerable.Range(0, 250).Select(i => sentences[i % 3]).ToArray();
        var expected = await _gateway.PostAsJsonAsync("/api/v1/predictions", new { model = "sentiment", inputs = sentences },
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, expected.StatusCode);
        var one = (await expected.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken))
            .GetProperty("predictions").EnumerateArray().Select(p => p.GetRawText()).ToArray();
        Assert.Equal(3, one.Distinct().Count()); // the pattern is visible

        var submitted = await _gateway.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs }, TestContext.Current.CancellationToken);
        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);
        var job = await WaitUntilFinishedAsync(submitted.Headers.Location!.OriginalString);

        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        var predictions = job.GetProperty("result").GetProperty("predictions").EnumerateArray().Select(p => p.GetRawText()).ToArray();
        Assert.Equal(Enumerable.Range(0, 250).Select(i => one[i % 3]), predictions);
    }

    [Fact]
    public async Task The_same_idempotency_key_with_another_body_is_422_and_with_the_same_body_the_same_job()
    {
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"idempotency-{Guid.NewGuid():N}"));
        async Task<HttpResponseMessage> SubmitAsync(string input)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
            {
                Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { input } }),
            };
            request.Headers.Add("Idempotency-Key", "order-42");
            return await client.SendAsync(request, TestContext.Current.CancellationToken);
        }

        var first = await SubmitAsync("Lovely.");
        var again = await SubmitAsync("Lovely.");
        var other = await SubmitAsync("Dreadful.");

        await Problems.AssertStatusAsync(first, HttpStatusCode.Accepted);
        await Problems.AssertStatusAsync(again, HttpStatusCode.Accepted);
        var id = (await first.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("id").GetGuid();
        Assert.Equal(id, (await again.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("id").GetGuid());
        await Problems.AssertProblemAsync(other, HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");
        var jobs = await client.GetFromJsonAsync<JsonElement>("/api/v1/jobs", TestContext.Current.CancellationToken);
        Assert.Equal([id], jobs.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task A_submission_past_the_owners_quota_is_429_job_quota_exceeded_with_retry_after_over_rest_and_json_rpc()
    {
        using var suspended = stack.CreateGatewayClient(stack.Tokens.Create(subject: TestSettings.QuotaSuspendedSubject));
        var rest = await suspended.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs = new[] { "Lovely." } },
            TestContext.Current.CancellationToken);
        var rpc = await suspended.PostAsync("/rpc", new StringContent(
            """{"jsonrpc":"2.0","method":"submitJob","params":["sentiment",["Lovely."]],"id":1}""",
            System.Text.Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(rest, HttpStatusCode.TooManyRequests, "job_quota_exceeded");
        var retryAfter = Assert.Single(rest.Headers.GetValues("Retry-After"));
        Assert.True(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(retryAfter, problem.GetProperty("retryAfter").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
        var error = (await rpc.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("error");
        Assert.Equal(429, error.GetProperty("code").GetInt32());
        Assert.Equal("job_quota_exceeded", error.GetProperty("data").GetProperty("code").GetString());
        Assert.Equal(retryAfter, error.GetProperty("data").GetProperty("retryAfter").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
        var none = await suspended.GetFromJsonAsync<JsonElement>("/api/v1/jobs", TestContext.Current.CancellationToken);
        Assert.Equal(0, none.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Concurrent_submissions_of_one_owner_are_held_to_their_quota_across_the_replicas()
    {
        // Twenty 1000-input jobs at once against a quota of three: they cannot all be admitted one after another
        // with the earlier ones already finished, so some are refused, each with the quota's answer.
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: TestSettings.QuotaOfThreeSubject));
        var inputs = Enumerable.Range(0, 1000).Select(i => $"Quite good, number {i}.").ToArray();
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            client.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs }, TestContext.Current.CancellationToken)));

        var others = await Task.WhenAll(answers.Where(answer => answer.StatusCode is not (HttpStatusCode.Accepted or HttpStatusCode.TooManyRequests))
            .Select(async answer => $"{(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}"));
        Assert.True(others.Length == 0, $"{others.Length} answers were neither 202 nor 429: {string.Join("; ", others)}");
        Assert.InRange(answers.Count(answer => answer.StatusCode == HttpStatusCode.Accepted), 3, 19);
        foreach (var refused in answers.Where(answer => answer.StatusCode == HttpStatusCode.TooManyRequests))
        {
            await Problems.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "job_quota_exceeded");
            Assert.True(refused.Headers.Contains("Retry-After"));
        }
    }

    private Task<JsonElement> WaitUntilFinishedAsync(string location) => WaitUntilFinishedAsync(_gateway, location);

    /// <summary>Reads the job at <paramref name="location"/> until it has succeeded or failed (within a minute).</summary>
    internal static async Task<JsonElement> WaitUntilFinishedAsync(HttpClient gateway, string location)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(JobTimeout);
        while (true)
        {
            var job = await gateway.GetFromJsonAsync<JsonElement>(location, timeout.Token);
            if (job.GetProperty("status").GetString() is "succeeded" or "failed")
            {
                return job;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
        }
    }
}
