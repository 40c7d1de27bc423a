using System.Net.Http.Json;
using Gateway.Tests.Hosting;

namespace Gateway.Tests;

/// <summary>The OpenAPI document is the API's reference: every operation named, described, secured and its errors listed.</summary>
public sealed class OpenApiDocumentTests(GatewayFactory factory) : IClassFixture<GatewayFactory>
{
    private static IEnumerable<(string Path, JsonElement Operation)> Operations(JsonElement document) =>
        document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (path.Name, operation.Value)));

    [Fact]
    public async Task Every_data_operation_is_named_described_secured_with_its_scope_and_lists_its_errors()
    {
        using var client = factory.CreateClient();

        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json", TestContext.Current.CancellationToken);

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        var operations = Operations(document).ToList();
        Assert.NotEmpty(operations);
        foreach (var (path, operation) in operations)
        {
            Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("operationId").GetString()), path);
            Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("summary").GetString()), path);
            Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("description").GetString()), path);
            var requirement = Assert.Single(operation.GetProperty("security").EnumerateArray());
            var scopes = requirement.GetProperty("Bearer").EnumerateArray().Select(scope => scope.GetString()).ToList();
            if (path != "/rpc") // JSON-RPC checks a scope per method, named in its description
            {
                Assert.Contains(Assert.Single(scopes), new[] { "predict", "jobs", "admin" });
            }

            var responses = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();
            Assert.Superset(new HashSet<string> { "401", "403", "429" }, responses);
        }
    }

    [Fact]
    public async Task The_scalar_reference_ui_is_served_in_development()
    {
        using var client = factory.CreateClient();

        var page = await client.GetStringAsync("/scalar", TestContext.Current.CancellationToken);

        Assert.Contains("<html", page, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("openapi/v1.json", page, StringComparison.Ordinal);
    }
}
