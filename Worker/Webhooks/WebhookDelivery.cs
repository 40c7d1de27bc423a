using System.Text.Json;

namespace Worker.Webhooks;

/// <summary>
/// One result to POST to one callback URL. <see cref="Id"/> names the delivery, not the attempt: it stays the same
/// across retries so the receiver can drop duplicates.
/// </summary>
public sealed record WebhookDelivery
{
    public WebhookDelivery(string id, string url, ReadOnlyMemory<byte> body)
    {
        // The id is signed as "{id}.{timestamp}." and sent as a header: a dot or a control character would make the
        // signed text ambiguous or the header invalid.
        if (string.IsNullOrEmpty(id) || id.Length > 200 || id.Any(c => c is '.' or < '!' or > '~'))
        {
            throw new ArgumentException("A delivery id is 1-200 visible ASCII characters without a dot.", nameof(id));
        }

        ArgumentNullException.ThrowIfNull(url);
        Id = id;
        Url = url;
        Body = body;
    }

    public string Id { get; }

    public string Url { get; }

    /// <summary>
    /// The subject the delivery is for: it is signed with that owner's key. Every job outcome has one; a delivery
    /// without (tests, tools) is signed with the deployment secret itself.
    /// </summary>
    public string? Owner { get; init; }

    /// <summary>The UTF-8 JSON body, sent and signed byte for byte.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    public static WebhookDelivery FromJson(string id, string url, JsonElement body) =>
        new(id, url, JsonSerializer.SerializeToUtf8Bytes(body));
}
