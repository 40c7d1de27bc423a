using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using Gateway.Tests.Rpc;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Limits;

/// <summary>
/// Each JSON-RPC call is charged to the rate-limit policy of its REST twin, from the same bucket: a batch costs the
/// sum of its calls, and the calls past the budget get their own 429 errors.
/// </summary>
public sealed class RpcChargingTests
{
    /// <summary>Buckets that do not refill within a test; <c>rpc</c> itself generous, so only the calls' charges show.</summary>
    private static ConfiguredGatewayFactory Factory(int batch = 3, int jobs = 2) => new(new Dictionary<string, string?>
    {
        ["RateLimiting:Policies:batch:TokenLimit"] = $"{batch}",
        ["RateLimiting:Policies:batch:TokensPerPeriod"] = "1",
        ["RateLimiting:Policies:batch:ReplenishmentPeriod"] = "00:10:00",
        ["RateLimiting:Policies:jobs:TokenLimit"] = $"{jobs}",
        ["RateLimiting:Policies:jobs:TokensPerPeriod"] = "1",
        ["RateLimiting:Policies:jobs:ReplenishmentPeriod"] = "00:10:00",
    });

    private static async Task<(HttpResponseMessage Response, List<JsonElement> Answers)> PostBatchAsync(
        HttpClient client, string method, string @params, int count)
    {
        var batch = "[" + string.Join(",", Enumerable.Range(1, count).Select(id =>
            $$"""{"jsonrpc":"2.0","method":"{{method}}","params":{{@params}},"id":{{id}}}""")) + "]";
        var response = await client.PostAsync("/rpc", new StringContent(batch, Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        return (response, [.. body.EnumerateArray()]);
    }

    [Fact]
    public async Task A_batch_of_predictions_costs_one_batch_token_per_call_and_the_calls_past_the_budget_get_429_errors()
    {
        await using var factory = Factory(batch: 3);
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "charge-anna"));

        var (response, answers) = await PostBatchAsync(client, "predict", """{"model":"sentiment","inputs":["fine"]}""", 5);

        Assert.Equal([1, 2, 3, 4, 5], answers.Select(a => a.GetProperty("id").GetInt32()));
        Assert.All(answers.Take(3), a => Assert.True(a.TryGetProperty("result", out _), a.GetRawText()));
        Assert.All(answers.Skip(3), a => JsonRpcAssert.ErrorData(a, 429, "rate_limited"));
        Assert.Equal(3, factory.Inference.Requests.Count);
        // The reply's Retry-After is the longest of its refused calls' data.retryAfter.
        var waits = answers.Skip(3).Select(a => a.GetProperty("error").GetProperty("data").GetProperty("retryAfter").GetInt32());
        Assert.Equal(waits.Max().ToString(System.Globalization.CultureInfo.InvariantCulture),
            Assert.Single(response.Headers.GetValues("Retry-After")));
    }

    [Fact]
    public async Task Rest_and_json_rpc_draw_on_the_same_bucket()
    {
        await using var factory = Factory(batch: 2);
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "charge-ben"));
        var body = new { model = "sentiment", inputs = new[] { "fine" } };

        var (_, answers) = await PostBatchAsync(client, "predict", """{"model":"sentiment","inputs":["fine"]}""", 2);
        var rest = await client.PostAsJsonAsync("/api/v1/predictions", body, TestContext.Current.CancellationToken);

        Assert.All(answers, a => Assert.True(a.TryGetProperty("result", out _), a.GetRawText()));
        await ReadProblemAsync(rest, HttpStatusCode.TooManyRequests, "rate_limited");
    }

    [Fact]
    public async Task Job_submissions_over_json_rpc_are_charged_to_the_jobs_policy()
    {
        await using var factory = Factory(jobs: 2);
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "charge-cleo"));

        var (_, answers) = await PostBatchAsync(client, "submitJob", """{"model":"sentiment","inputs":["fine"]}""", 3);

        Assert.All(answers.Take(2), a => Assert.True(a.TryGetProperty("result", out _), a.GetRawText()));
        JsonRpcAssert.ErrorData(answers[2], 429, "rate_limited");
    }

    [Fact]
    public async Task Another_callers_budget_is_untouched()
    {
        await using var factory = Factory(batch: 1);
        using var dora = factory.CreateAuthorizedClient(TestTokens.Create(subject: "charge-dora"));
        using var emil = factory.CreateAuthorizedClient(TestTokens.Create(subject: "charge-emil"));

        await PostBatchAsync(dora, "predict", """{"model":"sentiment","inputs":["fine"]}""", 3);
        var (_, answers) = await PostBatchAsync(emil, "predict", """{"model":"sentiment","inputs":["fine"]}""", 1);

        Assert.True(answers[0].TryGetProperty("result", out _), answers[0].GetRawText());
    }
}
