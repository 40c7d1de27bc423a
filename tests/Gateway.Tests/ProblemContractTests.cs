using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Gateway.Tests;

/// <summary>Errors the gateway produces itself, without any service behind it.</summary>
public sealed class ProblemContractTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    private readonly HttpClient _client = factory.CreateClient();

    private static async Task<JsonElement> ReadProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal($"urn:problem:{code}", problem.GetProperty("type").GetString());
        Assert.Matches("^[0-9a-f]{32}$", problem.GetProperty("traceId").GetString());
        Assert.False(problem.TryGetProperty("requestId", out _));
        return problem;
    }

    [Fact]
    public async Task Unknown_route_is_404_not_found_problem()
    {
        var response = await _client.GetAsync("/api/v1/unknown", TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(response, HttpStatusCode.NotFound, "not_found");
        Assert.Equal("/api/v1/unknown", problem.GetProperty("instance").GetString());
    }

    [Fact]
    public async Task Wrong_method_is_405_problem()
    {
        var response = await _client.DeleteAsync("/api/v1/predictions", TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }

    [Fact]
    public async Task Malformed_json_is_400_with_an_explanation()
    {
        using var content = new StringContent("{\"model\":", Encoding.UTF8, "application/json");
        var response = await _client.PostAsync("/api/v1/predictions", content, TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task Form_body_is_415_problem()
    {
        using var content = new FormUrlEncodedContent([new("model", "sentiment")]);
        var response = await _client.PostAsync("/api/v1/jobs", content, TestContext.Current.CancellationToken);

        await ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task Invalid_job_is_rejected_before_reaching_the_worker()
    {
        var response = await _client.PostAsJsonAsync("/api/v1/jobs", new { model = "", inputs = Array.Empty<string>() },
            TestContext.Current.CancellationToken);

        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("model", out _));
        Assert.True(errors.TryGetProperty("inputs", out _));
    }

    [Fact]
    public async Task Health_and_openapi_answer_without_any_upstream()
    {
        var alive = await _client.GetAsync("/alive", TestContext.Current.CancellationToken);
        var openApi = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        var operations = openApi.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject())
            .Select(operation => operation.Value.GetProperty("operationId").GetString());
        Assert.Superset(new HashSet<string?> { "Predict", "PredictText", "ListModels", "SubmitJob", "GetJob" }, operations.ToHashSet());
    }
}
