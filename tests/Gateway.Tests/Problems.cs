using System.Net.Http.Json;
using Tests.Contracts;

namespace Gateway.Tests;

internal static class Problems
{
    /// <summary>Asserts the response is a problem with the contract's members and returns its body.</summary>
    public static async Task<JsonElement> ReadProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        ProblemSchema.AssertValid(problem);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal($"urn:problem:{code}", problem.GetProperty("type").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Matches("^[0-9a-f]{32}$", problem.GetProperty("traceId").GetString());
        Assert.False(problem.TryGetProperty("requestId", out _));
        return problem;
    }
}
