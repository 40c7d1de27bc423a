using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Worker.Webhooks;

/// <summary>The verdict on a callback URL: allowed (with the parsed URI) or refused with a reason fit to show the caller.</summary>
public sealed record CallbackUrlCheck(Uri? Uri, string? Reason)
{
    public bool IsAllowed => Reason is null;

    public static CallbackUrlCheck Allowed(Uri uri) => new(uri, null);

    public static CallbackUrlCheck Refused(string reason) => new(null, reason);
}

/// <summary>
/// Which callback URLs the Worker may POST to. Callbacks are chosen by whoever submits a job, so without this check
/// they could make the Worker reach the cluster's own services or the cloud metadata endpoint (server-side request
/// forgery). Only public unicast addresses are allowed, plus whatever the <c>AllowedNetworks</c> configuration adds.
/// </summary>
public sealed class CallbackUrlPolicy
{
    public const int MaxUrlLength = 2048;

    private static readonly (IPNetwork Network, string Kind)[] Refused =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified (\"this network\")"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private"),
        (IPNetwork.Parse("100.64.0.0/10"), "a carrier-grade NAT"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private"),
        (IPNetwork.Parse("192.0.0.0/24"), "a reserved"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private"),
        (IPNetwork.Parse("198.18.0.0/15"), "a reserved"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved or broadcast"),
        (IPNetwork.Parse("::/128"), "an unspecified"),
        (IPNetwork.Parse("::1/128"), "a loopback"),
        (IPNetwork.Parse("::/96"), "a deprecated IPv4-compatible"),
        (IPNetwork.Parse("fc00::/7"), "a private"),
        (IPNetwork.Parse("fe80::/10"), "a link-local"),
        (IPNetwork.Parse("fec0::/10"), "a deprecated site-local"),
        (IPNetwork.Parse("ff00::/8"), "a multicast"),
    ];

    // NAT64 (RFC 6052) addresses carry an IPv4 address in their last 32 bits, which a NAT64 gateway would reach.
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    private readonly IPNetwork[] _allowed;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;

    public CallbackUrlPolicy(IOptions<WebhookOptions> options)
        : this(options, Dns.GetHostAddressesAsync)
    {
    }

    /// <summary>With a resolver of one's own, so tests can give a host any addresses.</summary>
    internal CallbackUrlPolicy(IOptions<WebhookOptions> options, Func<string, CancellationToken, Task<IPAddress[]>> resolve)
    {
        _allowed = [.. options.Value.AllowedNetworks.Select(network => IPNetwork.Parse(network))];
        _resolve = resolve;
    }

    /// <summary>
    /// Checks the URL's form, then resolves its host and refuses it when any address it resolves to is not allowed
    /// (see <see cref="IsAddressAllowed"/>). The connection is checked again when it is made, as DNS can change.
    /// </summary>
    public async Task<CallbackUrlCheck> ValidateAsync(string? url, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return CallbackUrlCheck.Refused("The callback URL is empty.");
        }

        if (url.Length > MaxUrlLength)
        {
            return CallbackUrlCheck.Refused($"The callback URL is longer than {MaxUrlLength} characters.");
        }

        // On Unix "/path" parses as an absolute file: URI, so the scheme check also catches relative URLs.
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return CallbackUrlCheck.Refused("The callback URL must be an absolute http or https URL.");
        }

        if (uri.UserInfo.Length > 0)
        {
            return CallbackUrlCheck.Refused("The callback URL must not carry a user name or password.");
        }

        if (string.IsNullOrEmpty(uri.IdnHost))
        {
            return CallbackUrlCheck.Refused("The callback URL has no host.");
        }

        var addresses = await ResolveAsync(uri.IdnHost, cancellationToken);
        if (addresses.Length == 0)
        {
            return CallbackUrlCheck.Refused($"The callback host '{uri.IdnHost}' does not resolve.");
        }

        foreach (var address in addresses)
        {
            if (RefusalKind(address) is { } kind)
            {
                return CallbackUrlCheck.Refused($"The callback host '{uri.IdnHost}' resolves to {kind} address, which callbacks may not reach.");
            }
        }

        return CallbackUrlCheck.Allowed(uri);
    }

    /// <summary>
    /// True for a public unicast address, or any address inside a configured <c>AllowedNetworks</c> block.
    /// Loopback, private, link-local (the cloud metadata endpoint 169.254.169.254 among them), unspecified,
    /// carrier-grade NAT, multicast, broadcast and reserved addresses are refused, also when written as
    /// IPv4-mapped (<c>::ffff:10.0.0.1</c>) or NAT64 IPv6 addresses.
    /// </summary>
    public bool IsAddressAllowed(IPAddress address) => RefusalKind(address) is null;

    /// <summary>The host's addresses; none when it does not resolve. IP literals come back as they are.</summary>
    internal async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var name = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (IPAddress.TryParse(name, out var literal))
        {
            return [literal];
        }

        try
        {
            return await _resolve(name, cancellationToken);
        }
        catch (SocketException)
        {
            return [];
        }
    }

    private string? RefusalKind(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (_allowed.Any(network => network.Contains(address)))
        {
            return null;
        }

        if (Nat64.Contains(address))
        {
            var bytes = address.GetAddressBytes();
            return RefusalKind(new IPAddress(bytes.AsSpan(12)));
        }

        foreach (var (network, kind) in Refused)
        {
            if (network.Contains(address))
            {
                return kind;
            }
        }

        return null;
    }
}
