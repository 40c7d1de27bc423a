namespace AppHost.Tests;

/// <summary>An owner's webhook signing key, fetched as its receivers would: through the gateway, with its own token.</summary>
internal static class SigningKeys
{
    /// <summary>The signing key of the owner <paramref name="client"/> authenticates as (its token needs the <c>jobs</c> scope).</summary>
    public static async Task<string> ForOwnerAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var key = await client.GetFromJsonAsync<JsonElement>("/api/v1/webhooks/signing-key", cancellationToken);
        Assert.Equal("HMAC-SHA256", key.GetProperty("algorithm").GetString());
        return key.GetProperty("key").GetString()!;
    }
}
