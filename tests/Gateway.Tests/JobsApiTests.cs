using System.Net.Http.Json;
using Gateway.Tests.Hosting;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.DependencyInjection;
using static Gateway.Tests.Problems;

namespace Gateway.Tests;

public sealed class JobsApiTests(GatewayFactory factory) : IClassFixture<GatewayFactory>
{
    private FakeJobsClient Jobs => (FakeJobsClient)factory.Services.GetRequiredService<IJobsClient>();

    [Fact]
    public async Task The_idempotency_key_and_callback_url_reach_the_worker_with_the_callers_subject()
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "jobs-ivan"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
        {
            Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { "fine" }, callbackUrl = "https://hooks.example/x" }),
        };
        request.Headers.Add("Idempotency-Key", "order-42");

        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var forwarded = Assert.Single(Jobs.Submissions, s => s.Owner == TestTokens.OwnerOf("jobs-ivan"));
        Assert.Equal("order-42", forwarded.IdempotencyKey);
        Assert.Equal("https://hooks.example/x", forwarded.Submission.CallbackUrl);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("é")]
    [InlineData(null)] // 256 characters
    public async Task A_malformed_idempotency_key_is_400_naming_the_header(string? key)
    {
        key ??= new string('k', 256);
        using var client = factory.CreateAuthorizedClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
        {
            Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { "fine" } }),
        };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);

        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
    }

    [Fact]
    public async Task A_workers_quota_refusal_is_a_429_problem_with_its_code_and_a_retry_after_header()
    {
        // As the Worker's problem reaches the gateway: read from JSON, retryAfter a JSON number.
        Jobs.Failure = System.Text.Json.JsonSerializer.Deserialize<Microsoft.AspNetCore.Mvc.ProblemDetails>(
            """{"status":429,"title":"Too many unfinished jobs.","code":"job_quota_exceeded","retryAfter":12}""");
        using var client = factory.CreateAuthorizedClient();
        HttpResponseMessage response;
        try
        {
            response = await client.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs = new[] { "fine" } },
                TestContext.Current.CancellationToken);
        }
        finally
        {
            Jobs.Failure = null; // the class's other tests share the fake
        }

        var problem = await ReadProblemAsync(response, HttpStatusCode.TooManyRequests, "job_quota_exceeded");
        Assert.Equal("12", Assert.Single(response.Headers.GetValues("Retry-After")));
        Assert.Equal(12, problem.GetProperty("retryAfter").GetInt32());
    }

    [Fact]
    public async Task Listing_shows_only_the_callers_jobs()
    {
        Jobs.Add(TestTokens.OwnerOf("jobs-judy"));
        Jobs.Add(TestTokens.OwnerOf("jobs-judy"));
        Jobs.Add(TestTokens.OwnerOf("jobs-someone-else"));
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "jobs-judy"));

        var page = await client.GetFromJsonAsync<JsonElement>("/api/v1/jobs?status=queued", TestContext.Current.CancellationToken);

        Assert.Equal(2, page.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task A_failed_jobs_error_reaches_the_caller_without_internal_addresses()
    {
        var job = Jobs.AddFailed(TestTokens.OwnerOf("jobs-kim"), UpstreamProblems.Of(503, "upstream_unavailable",
            "The job could not be processed.",
            "Gave up after 4 attempts. Last error: Status(StatusCode=\"Unavailable\", Detail=\"Error connecting to subchannel.\", " +
            "DebugException=\"System.Net.Sockets.SocketException: Connection refused (127.0.0.1:50051)\") at " +
            "http://python-inference.internal:8000/v1/predict via worker-7f9c:5001 and [fd00::12]:443"));
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "jobs-kim"));

        var read = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}", TestContext.Current.CancellationToken);
        var listed = await client.GetFromJsonAsync<JsonElement>("/api/v1/jobs?status=failed", TestContext.Current.CancellationToken);

        foreach (var error in new[] { read.GetProperty("error"), listed.GetProperty("items")[0].GetProperty("error") })
        {
            var detail = error.GetProperty("detail").GetString()!;
            Assert.StartsWith("Gave up after 4 attempts. Last error:", detail, StringComparison.Ordinal);
            foreach (var leak in new[] { "127.0.0.1", "50051", "python-inference.internal", "8000", "worker-7f9c", "5001", "fd00::12" })
            {
                Assert.DoesNotContain(leak, detail, StringComparison.Ordinal);
            }

            Assert.Contains("[internal address]", detail, StringComparison.Ordinal);
        }
    }
}
