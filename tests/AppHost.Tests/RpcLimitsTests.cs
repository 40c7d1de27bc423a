using System.Diagnostics;
using System.Text;

namespace AppHost.Tests;

/// <summary>
/// JSON-RPC's fair limits against the real stack: each call of a batch is charged to its REST twin's rate-limit
/// policy, so a batch of 50 predictions costs 50 tokens of <c>batch</c> (20, refilled by 10 a second, in this stack),
/// not one <c>rpc</c> token.
/// </summary>
public sealed class RpcLimitsTests(AppHostFixture stack)
{
    [Fact]
    public async Task A_batch_of_50_predictions_is_charged_50_and_the_calls_past_the_budget_get_429_errors()
    {
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"rpc-limits-{Guid.NewGuid():N}", scopes: "predict"));
        var batch = "[" + string.Join(",", Enumerable.Range(1, 50).Select(id =>
            $$"""{"jsonrpc":"2.0","method":"predict","params":{"model":"sentiment","inputs":["A fine day, number {{id}}."]},"id":{{id}}}""")) + "]";
        var clock = Stopwatch.StartNew();

        var response = await client.PostAsync("/rpc", new StringContent(batch, Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        var elapsed = clock.Elapsed;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answers = (await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, 50), answers.Select(a => a.GetProperty("id").GetInt32()));
        var answered = answers.Count(a => a.TryGetProperty("result", out _));
        var refused = answers.Where(a => a.TryGetProperty("error", out _)).ToList();
        Assert.All(refused, a =>
        {
            Assert.Equal(429, a.GetProperty("error").GetProperty("code").GetInt32());
            Assert.Equal("rate_limited", a.GetProperty("error").GetProperty("data").GetProperty("code").GetString());
        });
        // The bucket holds 20 and gains 10 each second the batch runs; never all 50 (one rpc token would have allowed them).
        var allowed = 20 + (10 * (int)Math.Ceiling(elapsed.TotalSeconds));
        Assert.InRange(answered, 20, Math.Min(allowed, 49));
        Assert.Equal(50 - answered, refused.Count);
        Assert.NotEmpty(response.Headers.GetValues("Retry-After"));
    }
}
