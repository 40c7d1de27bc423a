using System.Net.Http.Headers;
using System.Text;

namespace AppHost.Tests;

public sealed class ErrorContractTests(AppHostFixture stack)
{
    private readonly HttpClient _gateway = stack.Gateway;

    [Fact]
    public async Task Empty_inputs_are_400_validation_problem()
    {
        var response = await _gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "sentiment", inputs = Array.Empty<string>() }, TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("inputs", out _));
    }

    [Fact]
    public async Task Too_many_inputs_are_400_batch_too_large()
    {
        var inputs = Enumerable.Repeat("fine", 101).ToArray();
        var response = await _gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "sentiment", inputs }, TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "batch_too_large");
    }

    [Fact]
    public async Task Unknown_model_is_404_passed_through_from_python()
    {
        var response = await _gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "unicorn", inputs = new[] { "hello" } }, TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "model_not_found");
    }

    [Fact]
    public async Task Wrong_input_kind_is_400_with_the_field_from_python()
    {
        var response = await _gateway.PostAsJsonAsync("/api/v1/predictions",
            new { model = "sentiment", inputs = new object[] { "fine", 42 } }, TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("inputs[1]", out _), problem.ToString());
    }

    [Fact]
    public async Task Malformed_json_is_400_problem()
    {
        using var content = new StringContent("{\"model\": \"sentiment\", \"inputs\": [", Encoding.UTF8, "application/json");
        var response = await _gateway.PostAsync("/api/v1/predictions", content, TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Wrong_content_type_is_415_problem()
    {
        using var content = new StringContent("model=sentiment", Encoding.UTF8, "text/plain");
        var response = await _gateway.PostAsync("/api/v1/predictions", content, TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task Missing_text_on_the_shortcut_is_400_problem()
    {
        var response = await _gateway.GetAsync("/predict", TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("text", out _));
    }

    [Fact]
    public async Task Unknown_route_is_404_problem()
    {
        var response = await _gateway.GetAsync("/api/v1/nothing-here", TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Problem_carries_the_callers_trace_id_even_when_python_produced_it()
    {
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/predictions")
        {
            Content = JsonContent.Create(new { model = "unicorn", inputs = new[] { "hello" } }),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{"00f067aa0ba902b7"}-01");

        var response = await _gateway.SendAsync(request, TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "model_not_found");
        Assert.Equal(traceId, problem.GetProperty("traceId").GetString());
    }
}
