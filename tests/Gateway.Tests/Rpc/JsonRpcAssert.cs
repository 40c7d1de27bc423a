namespace Gateway.Tests.Rpc;

internal static class JsonRpcAssert
{
    /// <summary>
    /// The answer equals the specification's expected JSON: members in any order, arrays in order, numbers by
    /// their exact text. An error's <c>data</c> is ours, not the specification's, so it is left out of the comparison.
    /// </summary>
    public static void Matches(string expected, JsonElement actual)
    {
        using var document = JsonDocument.Parse(expected);
        Compare(document.RootElement, actual, "$");
    }

    /// <summary>The error's <c>data</c> carries the problem code and a W3C trace id; returns the data.</summary>
    public static JsonElement ErrorData(JsonElement response, int code, string problemCode)
    {
        Assert.False(response.TryGetProperty("result", out _), "A response with an error has no result.");
        var error = response.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetInt32());
        var data = error.GetProperty("data");
        Assert.Equal(problemCode, data.GetProperty("code").GetString());
        Assert.Matches("^[0-9a-f]{32}$", data.GetProperty("traceId").GetString());
        return data;
    }

    private static void Compare(JsonElement expected, JsonElement actual, string path)
    {
        Assert.True(expected.ValueKind == actual.ValueKind,
            $"{path}: expected {expected.ValueKind} {expected.GetRawText()}, got {actual.ValueKind} {actual.GetRawText()}");
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                var isError = path.EndsWith(".error", StringComparison.Ordinal);
                var actualNames = actual.EnumerateObject().Select(member => member.Name)
                    .Where(name => !(isError && name == "data")).Order(StringComparer.Ordinal);
                Assert.Equal(expected.EnumerateObject().Select(member => member.Name).Order(StringComparer.Ordinal), actualNames);
                foreach (var member in expected.EnumerateObject())
                {
                    Compare(member.Value, actual.GetProperty(member.Name), $"{path}.{member.Name}");
                }

                break;
            case JsonValueKind.Array:
                Assert.True(expected.GetArrayLength() == actual.GetArrayLength(),
                    $"{path}: expected {expected.GetRawText()}, got {actual.GetRawText()}");
                for (var i = 0; i < expected.GetArrayLength(); i++)
                {
                    Compare(expected[i], actual[i], $"{path}[{i}]");
                }

                break;
            case JsonValueKind.String:
                Assert.Equal(expected.GetString(), actual.GetString());
                break;
            case JsonValueKind.Number:
                Assert.Equal(expected.GetRawText(), actual.GetRawText());
                break;
        }
    }
}
