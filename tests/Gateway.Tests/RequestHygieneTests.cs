using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using static Gateway.Tests.Problems;

namespace Gateway.Tests;

public sealed class SmallBodyFactory : GatewayFactory
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("RequestLimits:MaxBodyBytes", "2048"),
        new("Inference:MaxTextLength", "100"),
    ];
}

public sealed class RequestHygieneTests(SmallBodyFactory factory) : IClassFixture<SmallBodyFactory>
{
    private readonly HttpClient _client = factory.CreateAuthorizedClient();

    [Fact]
    public async Task A_body_over_the_limit_is_413_problem()
    {
        var body = new { model = "sentiment", inputs = Enumerable.Repeat(new string('x', 90), 30) };

        var response = await _client.PostAsJsonAsync("/api/v1/predictions", body, TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
    }

    [Fact]
    public async Task A_text_over_the_limit_is_400_naming_the_input()
    {
        var body = new { model = "sentiment", inputs = new[] { "fine", new string('x', 101) } };

        var response = await _client.PostAsJsonAsync("/api/v1/predictions", body, TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("inputs[1]", out _));
    }

    [Fact]
    public async Task A_long_text_on_the_shortcut_is_400_naming_text()
    {
        var response = await _client.GetAsync($"/predict?text={new string('x', 101)}", TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("text", out _));
    }

    [Fact]
    public async Task A_plain_text_body_is_415_problem()
    {
        using var content = new StringContent("great", Encoding.UTF8, "text/plain");

        var response = await _client.PostAsync("/api/v1/predictions", content, TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task Every_response_carries_the_trace_id_of_its_problem()
    {
        var response = await _client.PostAsJsonAsync("/api/v1/predictions", new { model = "nope", inputs = new[] { "x" } },
            TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(response, HttpStatusCode.NotFound, "model_not_found");
        Assert.Equal(problem.GetProperty("traceId").GetString(), Assert.Single(response.Headers.GetValues("X-Trace-Id")));
    }

    [Fact]
    public async Task A_successful_response_carries_a_trace_id_too()
    {
        var response = await _client.GetAsync("/predict?text=fine", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches("^[0-9a-f]{32}$", Assert.Single(response.Headers.GetValues("X-Trace-Id")));
    }
}
