using System.Net.Http.Json;

namespace Gateway.Tests.Rpc;

public sealed class JsonRpcApiDocumentTests
{
    [Fact]
    public async Task OpenApi_describes_the_endpoint_and_every_method_with_its_scope()
    {
        await using var host = await JsonRpcTestHost.StartAsync();

        var document = await host.Client.GetFromJsonAsync<JsonElement>("/openapi/v1.json", TestContext.Current.CancellationToken);

        var operation = document.GetProperty("paths").GetProperty("/rpc").GetProperty("post");
        Assert.Equal("JsonRpc", operation.GetProperty("operationId").GetString());
        var description = operation.GetProperty("description").GetString();
        Assert.Contains("- predict (scope: predict;", description, StringComparison.Ordinal);
        Assert.Contains("- listModels (scope: predict;", description, StringComparison.Ordinal);
        Assert.Contains("- submitJob (scope: jobs;", description, StringComparison.Ordinal);
        Assert.Contains("- getJob (scope: jobs;", description, StringComparison.Ordinal);
        Assert.Superset(new HashSet<string> { "200", "204", "401", "403", "413", "415", "429" },
            operation.GetProperty("responses").EnumerateObject().Select(response => response.Name).ToHashSet());
    }
}
