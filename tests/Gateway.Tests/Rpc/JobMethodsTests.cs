using ServiceDefaults.Problems;
using Gateway.Tests.Hosting;

namespace Gateway.Tests.Rpc;

/// <summary><c>submitJob</c> and <c>getJob</c> against a fake Worker that keeps each job for its owner.</summary>
public sealed class JobMethodsTests
{
    [Fact]
    public async Task SubmitJob_queues_a_job_owned_by_the_callers_subject()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "submitJob", "params": {"model": "sentiment", "inputs": ["fine"]}, "id": 1}""",
            subject: "bob");

        var result = response.GetProperty("result");
        Assert.Equal(["id", "status"], result.EnumerateObject().Select(member => member.Name));
        Assert.Equal("queued", result.GetProperty("status").GetString());
        Assert.Equal(TestTokens.OwnerOf("bob"), host.Jobs.OwnerOf(result.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task SubmitJob_by_position_takes_model_then_inputs()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "submitJob", "params": ["sentiment", ["fine"]], "id": 1}""");

        Assert.Equal(TestTokens.OwnerOf("alice"), host.Jobs.OwnerOf(response.GetProperty("result").GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task SubmitJob_without_a_model_is_invalid_params_naming_the_field()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "submitJob", "params": {"inputs": ["fine"]}, "id": 1}""");

        var errors = JsonRpcAssert.ErrorData(response, -32602, "validation_failed").GetProperty("errors");
        Assert.True(errors.TryGetProperty("model", out _));
    }

    [Fact]
    public async Task SubmitJob_with_only_the_predict_scope_is_403_insufficient_scope()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "submitJob", "params": ["sentiment", ["fine"]], "id": 1}""",
            scopes: "predict");

        JsonRpcAssert.ErrorData(response, 403, "insufficient_scope");
    }

    [Fact]
    public async Task SubmitJob_while_the_broker_is_down_is_503()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        host.Jobs.Failure = UpstreamProblems.Of(503, "broker_unavailable", "The job queue is unavailable.");

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "submitJob", "params": ["sentiment", ["fine"]], "id": 1}""");

        JsonRpcAssert.ErrorData(response, 503, "broker_unavailable");
    }

    [Fact]
    public async Task SubmitJob_past_the_owners_quota_is_429_job_quota_exceeded_with_retry_after()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        host.Jobs.Failure = UpstreamProblems.Of(429, "job_quota_exceeded", "Too many unfinished jobs.").WithRetryAfter(TimeSpan.FromSeconds(12));

        var response = await host.CallAsync("""{"jsonrpc": "2.0", "method": "submitJob", "params": ["sentiment", ["fine"]], "id": 1}""");

        JsonRpcAssert.ErrorData(response, 429, "job_quota_exceeded");
        Assert.Equal(12, response.GetProperty("error").GetProperty("data").GetProperty("retryAfter").GetInt32());
    }

    [Fact]
    public async Task A_batch_with_a_call_refused_by_the_quota_carries_its_retry_after_as_the_replys_header()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        host.Jobs.Failure = UpstreamProblems.Of(429, "job_quota_exceeded", "Too many unfinished jobs.").WithRetryAfter(TimeSpan.FromSeconds(12));

        using var response = await host.PostAsync(
            """[{"jsonrpc": "2.0", "method": "listModels", "id": 1}, {"jsonrpc": "2.0", "method": "submitJob", "params": ["sentiment", ["fine"]], "id": 2}]""");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("12", Assert.Single(response.Headers.GetValues("Retry-After")));
    }

    [Fact]
    public async Task A_reply_without_refused_calls_has_no_retry_after()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        using var response = await host.PostAsync("""[{"jsonrpc": "2.0", "method": "listModels", "id": 1}]""");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Retry-After"));
    }

    [Theory]
    [InlineData("""{"id": "{0}"}""")]
    [InlineData("""["{0}"]""")]
    public async Task GetJob_returns_the_callers_job(string parameters)
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        var job = host.Jobs.Add(TestTokens.OwnerOf("alice"));

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "getJob", "params": {{parameters.Replace("{0}", job.Id.ToString(), StringComparison.Ordinal)}}, "id": 1}""");

        var result = response.GetProperty("result");
        Assert.Equal(job.Id, result.GetProperty("id").GetGuid());
        Assert.Equal("queued", result.GetProperty("status").GetString());
        Assert.Equal("sentiment", result.GetProperty("model").GetString());
    }

    [Fact]
    public async Task GetJob_of_someone_elses_job_is_404_job_not_found()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        var job = host.Jobs.Add(TestTokens.OwnerOf("bob"));

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "getJob", "params": ["{{job.Id}}"], "id": 1}""");

        JsonRpcAssert.ErrorData(response, 404, "job_not_found");
    }

    [Fact]
    public async Task GetJob_of_an_unknown_job_is_404_job_not_found()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "getJob", "params": ["{{Guid.NewGuid()}}"], "id": 1}""");

        var data = JsonRpcAssert.ErrorData(response, 404, "job_not_found");
        Assert.Equal(404, data.GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("""{"id": "not-a-guid"}""")]
    [InlineData("""[42]""")]
    [InlineData("""{}""")]
    public async Task GetJob_without_a_guid_id_is_invalid_params_naming_id(string parameters)
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "getJob", "params": {{parameters}}, "id": 1}""");

        var errors = JsonRpcAssert.ErrorData(response, -32602, "validation_failed").GetProperty("errors");
        Assert.True(errors.TryGetProperty("id", out _));
    }

    [Fact]
    public async Task GetJob_without_the_jobs_scope_is_403_insufficient_scope()
    {
        await using var host = await JsonRpcTestHost.StartAsync();
        var job = host.Jobs.Add(TestTokens.OwnerOf("alice"));

        var response = await host.CallAsync($$"""{"jsonrpc": "2.0", "method": "getJob", "params": ["{{job.Id}}"], "id": 1}""", scopes: "predict");

        JsonRpcAssert.ErrorData(response, 403, "insufficient_scope");
    }
}
