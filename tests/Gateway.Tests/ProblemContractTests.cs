using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using static Gateway.Tests.Problems;

namespace Gateway.Tests;

/// <summary>Errors the gateway produces itself, before any service behind it is asked.</summary>
public sealed class ProblemContractTests(GatewayFactory factory) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = factory.CreateAuthorizedClient();

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
