using Microsoft.Extensions.Options;

namespace Worker.Webhooks;

/// <summary>Puts the <see cref="WebhookSignature"/> headers on an outgoing delivery attempt.</summary>
public sealed class WebhookSigner(IOptions<WebhookOptions> options, TimeProvider clock)
{
    /// <summary>Signs <paramref name="request"/> with the deployment secret itself (deliveries without an owner).</summary>
    public void Sign(HttpRequestMessage request, string id, ReadOnlySpan<byte> body) => Sign(request, id, body, owner: null);

    /// <summary>
    /// Signs <paramref name="request"/> with the current time; call it once per attempt. With an
    /// <paramref name="owner"/> the key is that owner's (<see cref="WebhookSigningKeys"/>), so only its receivers verify it.
    /// </summary>
    public void Sign(HttpRequestMessage request, string id, ReadOnlySpan<byte> body, string? owner)
    {
        ArgumentNullException.ThrowIfNull(request);
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        var headers = request.Headers;
        headers.Remove(WebhookSignature.IdHeader);
        headers.Remove(WebhookSignature.TimestampHeader);
        headers.Remove(WebhookSignature.SignatureHeader);
        headers.Add(WebhookSignature.IdHeader, id);
        headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        headers.Add(WebhookSignature.SignatureHeader,
            WebhookSignature.Compute(
                owner is null ? options.Value.SigningSecret : WebhookSigningKeys.Derive(options.Value.SigningSecret, owner),
                id, timestamp, body));
    }
}
