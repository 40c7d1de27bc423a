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

        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
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
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);

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
    public async Task Job_without_inputs_is_rejected_before_queueing()
    {
        var response = await _gateway.PostAsJsonAsync("/api/v1/jobs",
            new { model = "sentiment", inputs = Array.Empty<string>() }, TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("inputs", out _));
    }

    private async Task<JsonElement> WaitUntilFinishedAsync(string location)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(JobTimeout);
        while (true)
        {
            var job = await _gateway.GetFromJsonAsync<JsonElement>(location, timeout.Token);
            if (job.GetProperty("status").GetString() is "succeeded" or "failed")
            {
                return job;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
        }
    }
}
