using System.Net.Http.Json;
using Gateway.Tests.Hosting;
using static Gateway.Tests.Problems;

namespace Gateway.Tests.Security;

/// <summary>A gateway with tiny buckets that refill slowly, so the limits show within a test.</summary>
public sealed class TightLimitsFactory : GatewayFactory
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
        new[] { "predict", "batch", "jobs", "rpc", "admin", "anonymous" }.SelectMany(policy => new KeyValuePair<string, string?>[]
        {
            new($"RateLimiting:Policies:{policy}:TokenLimit", policy == "predict" ? "5" : "2"),
            new($"RateLimiting:Policies:{policy}:TokensPerPeriod", "1"),
            new($"RateLimiting:Policies:{policy}:ReplenishmentPeriod", "00:01:00"),
        });
}

public sealed class RateLimitTests(TightLimitsFactory factory) : IClassFixture<TightLimitsFactory>
{
    private static async Task<List<HttpStatusCode>> SendAsync(HttpClient client, int count, Func<HttpClient, Task<HttpResponseMessage>> send)
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < count; i++)
        {
            statuses.Add((await send(client)).StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task Over_the_limit_is_429_problem_with_retry_after()
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rate-carol"));
        var statuses = await SendAsync(client, 5, c => c.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken));

        var response = await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        var problem = await ReadProblemAsync(response, HttpStatusCode.TooManyRequests, "rate_limited");
        var retryAfter = Assert.Single(response.Headers.GetValues("Retry-After"));
        Assert.InRange(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        // One mechanism for every refusal: the header is written from the problem's retryAfter member.
        Assert.Equal(retryAfter, problem.GetProperty("retryAfter").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Each_subject_has_its_own_bucket()
    {
        using var dave = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rate-dave"));
        using var erin = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rate-erin"));
        await SendAsync(dave, 6, c => c.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken));

        var erinsFirst = await erin.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, erinsFirst.StatusCode);
    }

    [Fact]
    public async Task Batches_are_limited_more_strictly_than_single_predictions()
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rate-frank"));
        var body = new { model = "sentiment", inputs = new[] { "a", "b" } };

        var statuses = await SendAsync(client, 3,
            c => c.PostAsJsonAsync("/api/v1/predictions", body, TestContext.Current.CancellationToken));
        var single = await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.OK, single.StatusCode); // a separate, larger bucket
    }

    [Fact]
    public async Task Job_submissions_have_their_own_limit()
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rate-grace"));
        var body = new { model = "sentiment", inputs = new[] { "a" } };

        var statuses = await SendAsync(client, 3, c => c.PostAsJsonAsync("/api/v1/jobs", body, TestContext.Current.CancellationToken));

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task Anonymous_documentation_is_limited_per_client_address()
    {
        using var client = factory.CreateClient();

        var statuses = await SendAsync(client, 3, c => c.GetAsync("/openapi/v1.json", TestContext.Current.CancellationToken));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task Health_checks_are_never_rate_limited()
    {
        using var client = factory.CreateClient();

        var statuses = await SendAsync(client, 10, c => c.GetAsync("/alive", TestContext.Current.CancellationToken));

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
    }

    [Fact]
    public async Task Activations_have_their_own_admin_limit()
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "rate-heidi", scopes: "admin predict"));
        var body = new { version = "1.0.0" };

        var statuses = await SendAsync(client, 3,
            c => c.PutAsJsonAsync("/api/v1/models/rate-limited/active", body, TestContext.Current.CancellationToken));
        var read = await client.GetAsync("/predict?text=ok", TestContext.Current.CancellationToken);

        // The fake registry does not know the model: 404 until the bucket is empty.
        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }
}
