using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Worker.Webhooks;

/// <summary>
/// The webhook signature scheme, shared by the sender and by receivers.
/// <para>
/// Every delivery carries three headers:
/// <c>Webhook-Id</c>, the delivery id, the same on every retry of one delivery (receivers use it to drop duplicates);
/// <c>Webhook-Timestamp</c>, the time of this attempt in Unix seconds;
/// <c>Webhook-Signature</c>, <c>v1=</c> followed by the lowercase hex HMAC-SHA256, keyed with the UTF-8 bytes of
/// the deployment's signing secret, of the UTF-8 bytes of <c>{id}.{timestamp}.</c> followed by the raw body bytes.
/// </para>
/// <para>
/// A receiver recomputes the HMAC over the body exactly as received (before any JSON parsing), compares it in
/// constant time, and refuses a timestamp more than the tolerance (default 5 minutes) away from its own clock, so a
/// captured request cannot be replayed later. The header may hold several space-separated <c>v1=</c> values while a
/// secret is being rotated; one match is enough.
/// </para>
/// </summary>
public static class WebhookSignature
{
    public const string IdHeader = "Webhook-Id";
    public const string TimestampHeader = "Webhook-Timestamp";
    public const string SignatureHeader = "Webhook-Signature";
    public const string Version = "v1";

    private const string VersionPrefix = Version + "=";
    private const int HashBytes = 32;

    /// <summary>The header value for one secret: <c>v1=</c> and the lowercase hex HMAC.</summary>
    public static string Compute(string secret, string id, long timestamp, ReadOnlySpan<byte> body) =>
        VersionPrefix + Convert.ToHexStringLower(Hash(secret, id, timestamp.ToString(CultureInfo.InvariantCulture), body));

    /// <summary>
    /// True when <paramref name="signatureHeader"/> holds a <c>v1</c> signature of <paramref name="body"/> made with
    /// <paramref name="secret"/>, and <paramref name="timestamp"/> lies within <paramref name="tolerance"/> of
    /// <paramref name="now"/> on either side.
    /// </summary>
    public static bool Verify(
        string secret, string? id, string? timestamp, string? signatureHeader, ReadOnlySpan<byte> body,
        DateTimeOffset now, TimeSpan tolerance)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(signatureHeader)
            || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        if ((now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > tolerance)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[HashBytes];
        Hash(secret, id, timestamp!, body).CopyTo(expected);
        Span<byte> candidate = stackalloc byte[HashBytes];
        var matched = false;
        foreach (var range in signatureHeader.AsSpan().Split(' '))
        {
            var value = signatureHeader.AsSpan(range);
            if (value.StartsWith(VersionPrefix, StringComparison.Ordinal)
                && value.Length == VersionPrefix.Length + 2 * HashBytes
                && Convert.FromHexString(value[VersionPrefix.Length..], candidate, out _, out var written) == System.Buffers.OperationStatus.Done
                && written == HashBytes)
            {
                // No early exit: the time taken does not tell which value matched.
                matched |= CryptographicOperations.FixedTimeEquals(expected, candidate);
            }
        }

        return matched;
    }

    private static byte[] Hash(string secret, string id, string timestamp, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.UTF8.GetBytes($"{id}.{timestamp}."));
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }
}
