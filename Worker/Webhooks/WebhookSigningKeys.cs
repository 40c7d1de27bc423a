using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Worker.Webhooks;

/// <summary>
/// Each owner's webhook signing key, derived from the deployment secret with HKDF-SHA256
/// (<c>info = "webhook-signing:v1:" + owner</c>, no salt, 32 bytes, written as 64 lowercase hex characters).
/// An owner's receiver holds only its own key, which cannot be turned into the secret or another owner's key, so it
/// can verify its own deliveries and forge nobody's. Nothing is stored: rotating the deployment secret rotates every key.
/// </summary>
public sealed class WebhookSigningKeys(IOptions<WebhookOptions> options)
{
    public const string InfoPrefix = "webhook-signing:v1:";

    /// <summary>The key <paramref name="owner"/>'s deliveries are signed with (the HMAC key is its UTF-8 text).</summary>
    public string KeyFor(string owner) => Derive(options.Value.SigningSecret, owner);

    public static string Derive(string deploymentSecret, string owner)
    {
        ArgumentException.ThrowIfNullOrEmpty(deploymentSecret);
        ArgumentNullException.ThrowIfNull(owner);
        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(deploymentSecret), 32,
            salt: [], info: Encoding.UTF8.GetBytes(InfoPrefix + owner));
        return Convert.ToHexStringLower(key);
    }
}
