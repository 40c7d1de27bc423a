using System.Net.Http.Json;
using System.Text;
using Gateway.Tests.Hosting;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Application;

/// <summary>
/// REST and JSON-RPC are two doors onto the same application services: the same bad input or upstream failure gives
/// the same problem through both (over JSON-RPC as <c>error.message</c> and <c>error.data</c>).
/// </summary>
public sealed class BothDoorsTests(GatewayFactory factory) : IClassFixture<GatewayFactory>
{
    private FakeJobsClient Jobs => (FakeJobsClient)factory.Services.GetRequiredService<IJobsClient>();

    public static TheoryData<string, string, string, int, int> BadPredictions => new()
    {
        // REST body, JSON-RPC params, expected code, REST status, JSON-RPC error code
        { """{"model": "sentiment", "inputs": []}""", """{"model": "sentiment", "inputs": []}""", "validation_failed", 400, -32602 },
        { """{"model": "Not A Model!", "inputs": ["fine"]}""", """["Not A Model!", ["fine"]]""", "validation_failed", 400, -32602 },
        { $$"""{"model": "sentiment", "inputs": [{{Texts(101)}}]}""", $$"""{"model": "sentiment", "inputs": [{{Texts(101)}}]}""", "batch_too_large", 400, -32602 },
        { $$"""{"model": "sentiment", "inputs": ["{{new string('x', 5001)}}"]}""", $$"""{"inputs": ["{{new string('x', 5001)}}"]}""", "validation_failed", 400, -32602 },
        { """{"model": "unicorn", "inputs": ["fine"]}""", """{"model": "unicorn", "inputs": ["fine"]}""", "model_not_found", 404, 404 },
    };

    [Theory]
    [MemberData(nameof(BadPredictions))]
    public async Task A_bad_prediction_is_the_same_problem_over_rest_and_json_rpc(
        string restBody, string rpcParams, string code, int status, int rpcCode)
    {
        using var client = factory.CreateAuthorizedClient();

        var rest = await Problems.ReadProblemAsync(await PostJsonAsync(client, "/api/v1/predictions", restBody), (HttpStatusCode)status, code);
        var rpc = await CallAsync(client, "predict", rpcParams);

        AssertSameProblem(rest, rpc, rpcCode);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("é")]
    public async Task A_malformed_idempotency_key_is_the_same_problem_over_rest_and_json_rpc_and_never_reaches_the_worker(string key)
    {
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "doors-" + Guid.NewGuid().ToString("N")));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
        {
            Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { "fine" } }),
        };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);

        var rest = await Problems.ReadProblemAsync(await client.SendAsync(request, TestContext.Current.CancellationToken),
            HttpStatusCode.BadRequest, "validation_failed");
        var rpc = await CallAsync(client, "submitJob", JsonSerializer.Serialize(new { model = "sentiment", inputs = new[] { "fine" }, idempotencyKey = key }));

        AssertSameProblem(rest, rpc, -32602);
        Assert.True(rest.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
        Assert.DoesNotContain(Jobs.Submissions, submission => submission.IdempotencyKey == key);
    }

    [Fact]
    public async Task Another_subjects_job_is_the_same_404_over_rest_and_json_rpc()
    {
        var job = Jobs.Add(owner: TestTokens.OwnerOf("doors-owner"));
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: "doors-stranger"));

        var rest = await Problems.ReadProblemAsync(
            await client.GetAsync(new Uri($"/api/v1/jobs/{job.Id}", UriKind.Relative), TestContext.Current.CancellationToken),
            HttpStatusCode.NotFound, "job_not_found");
        var rpc = await CallAsync(client, "getJob", $$"""{"id": "{{job.Id}}"}""");

        AssertSameProblem(rest, rpc, 404);
    }

    [Fact]
    public async Task A_job_submitted_through_either_door_belongs_to_the_callers_subject()
    {
        var subject = "doors-" + Guid.NewGuid().ToString("N");
        using var client = factory.CreateAuthorizedClient(TestTokens.Create(subject: subject));

        using var rest = await PostJsonAsync(client, "/api/v1/jobs", """{"model": "sentiment", "inputs": ["fine"]}""");
        var rpc = await CallAsync(client, "submitJob", """["sentiment", ["fine"]]""");

        Assert.Equal(HttpStatusCode.Accepted, rest.StatusCode);
        var restJob = await rest.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal(TestTokens.OwnerOf(subject), Jobs.OwnerOf(restJob.GetProperty("id").GetGuid()));
        Assert.Equal(TestTokens.OwnerOf(subject), Jobs.OwnerOf(rpc.GetProperty("result").GetProperty("id").GetGuid()));
        Assert.Equal(["id", "status"], restJob.EnumerateObject().Select(member => member.Name));
        Assert.Equal(["id", "status"], rpc.GetProperty("result").EnumerateObject().Select(member => member.Name));
    }

    private static void AssertSameProblem(JsonElement rest, JsonElement rpcResponse, int rpcCode)
    {
        var error = rpcResponse.GetProperty("error");
        Assert.Equal(rpcCode, error.GetProperty("code").GetInt32());
        var data = error.GetProperty("data");
        Assert.Equal(rest.GetProperty("title").GetString(), error.GetProperty("message").GetString());
        Assert.Equal(rest.GetProperty("code").GetString(), data.GetProperty("code").GetString());
        Assert.Equal(rest.GetProperty("status").GetInt32(), data.GetProperty("status").GetInt32());
        // REST's contract fills in a detail where the problem had none; JSON-RPC leaves it out.
        if (data.TryGetProperty("detail", out var detail))
        {
            Assert.Equal(rest.GetProperty("detail").GetString(), detail.GetString());
        }

        Assert.Equal(ErrorsOf(rest), ErrorsOf(data));
    }

    private static string? ErrorsOf(JsonElement problem) => problem.TryGetProperty("errors", out var errors)
        ? string.Join("; ", errors.Deserialize<Dictionary<string, string[]>>()!.Select(error => $"{error.Key}: {string.Join(" | ", error.Value)}"))
        : null;

    private static Task<HttpResponseMessage> PostJsonAsync(HttpClient client, string path, string body) =>
        client.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);

    private static async Task<JsonElement> CallAsync(HttpClient client, string method, string @params)
    {
        using var response = await PostJsonAsync(client, "/rpc", $$"""{"jsonrpc": "2.0", "method": "{{method}}", "params": {{@params}}, "id": 1}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
    }

    private static string Texts(int count) => string.Join(", ", Enumerable.Repeat("\"fine\"", count));
}
