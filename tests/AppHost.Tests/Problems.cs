using System.Text.RegularExpressions;
using Tests.Contracts;

namespace AppHost.Tests;

/// <summary>Checks a response against the error contract (docs/api.md, "Error contract").</summary>
internal static partial class Problems
{
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        var problem = JsonElement.Parse(body);
        ProblemSchema.AssertValid(problem);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.Equal($"urn:problem:{code}", problem.GetProperty("type").GetString());
        Assert.StartsWith("/", problem.GetProperty("instance").GetString());
        Assert.Matches(TraceId(), problem.GetProperty("traceId").GetString());
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal); // no stack traces
        return problem;
    }

    /// <summary>Asserts the status, quoting the body when it differs (a refusal's problem says which and why).</summary>
    public static async Task AssertStatusAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        if (response.StatusCode != status)
        {
            Assert.Fail($"expected {(int)status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    [GeneratedRegex("^[0-9a-f]{32}$")]
    public static partial Regex TraceId();
}
