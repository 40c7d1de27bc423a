using System.Text.Json;
using Json.Schema;
using Xunit;

namespace Tests.Contracts;

/// <summary>
/// protos/problem-details.schema.json, the one description of the error contract, which python-inference's
/// tests validate against as well.
/// </summary>
public static class ProblemSchema
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
        JsonSchema.FromFile(Path.Combine(AppContext.BaseDirectory, "problem-details.schema.json")));

    /// <summary>Fails with every violation listed when <paramref name="problem"/> does not match the contract.</summary>
    public static void AssertValid(JsonElement problem)
    {
        var results = Schema.Value.Evaluate(problem, new EvaluationOptions { OutputFormat = OutputFormat.List });
        var violations = (results.Details ?? [])
            .Where(detail => detail.Errors is { Count: > 0 })
            .SelectMany(detail => detail.Errors!.Select(error => $"{detail.InstanceLocation}: {error.Value}"));
        Assert.True(results.IsValid, $"not a problem of the contract: {string.Join("; ", violations)}\n{problem}");
        Assert.Equal($"urn:problem:{problem.GetProperty("code").GetString()}", problem.GetProperty("type").GetString());
    }
}
