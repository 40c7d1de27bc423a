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
/// forgery). Only global unicast addresses on the <c>AllowedPorts</c> (80 and 443) are allowed, plus whatever the
/// <c>AllowedNetworks</c> configuration adds (on any port). Every refusal that depends on the host (it does not resolve,
/// it resolves to a refused address, its port is not allowed) reads the same <see cref="RefusedText"/>, so the answer
/// tells an internal DNS name from a private address or a missing one to nobody; the detail goes to the Worker's log.
/// </summary>
public sealed partial class CallbackUrlPolicy
{
    public const int MaxUrlLength = 2048;

    /// <summary>The one answer for a host or port callbacks may not reach.</summary>
    public const string RefusedText =
        "The callback URL is not allowed: callbacks go to public hosts on the allowed ports only (by default 80 and 443).";

    // Blocks outside global unicast (RFC 6890 special-purpose registries), and the IPv6 transition blocks whose
    // addresses lead to an IPv4 host through a relay or gateway (6to4, Teredo, NAT64, IPv4-mapped/compatible).
    private static readonly IPNetwork[] Refused =
    [
        IPNetwork.Parse("0.0.0.0/8"), // "this network"
        IPNetwork.Parse("10.0.0.0/8"), // private
        IPNetwork.Parse("100.64.0.0/10"), // carrier-grade NAT
        IPNetwork.Parse("127.0.0.0/8"), // loopback
        IPNetwork.Parse("169.254.0.0/16"), // link-local, cloud metadata
        IPNetwork.Parse("172.16.0.0/12"), // private
        IPNetwork.Parse("192.0.0.0/24"), // IETF protocol assignments
        IPNetwork.Parse("192.0.2.0/24"), // documentation
        IPNetwork.Parse("192.88.99.0/24"), // 6to4 relay anycast
        IPNetwork.Parse("192.168.0.0/16"), // private
        IPNetwork.Parse("198.18.0.0/15"), // benchmarking
        IPNetwork.Parse("198.51.100.0/24"), // documentation
        IPNetwork.Parse("203.0.113.0/24"), // documentation
        IPNetwork.Parse("224.0.0.0/4"), // multicast
        IPNetwork.Parse("240.0.0.0/4"), // reserved, broadcast
        IPNetwork.Parse("::/96"), // unspecified, loopback, IPv4-compatible
        IPNetwork.Parse("::ffff:0:0/96"), // IPv4-mapped
        IPNetwork.Parse("64:ff9b::/96"), // NAT64
        IPNetwork.Parse("64:ff9b:1::/48"), // local-use NAT64
        IPNetwork.Parse("100::/64"), // discard-only
        IPNetwork.Parse("2001::/23"), // IETF protocol assignments, Teredo 2001::/32 among them
        IPNetwork.Parse("2001:db8::/32"), // documentation
        IPNetwork.Parse("2002::/16"), // 6to4
        IPNetwork.Parse("3fff::/20"), // documentation
        IPNetwork.Parse("5f00::/16"), // segment routing
        IPNetwork.Parse("fc00::/7"), // unique local
        IPNetwork.Parse("fe80::/10"), // link-local
        IPNetwork.Parse("fec0::/10"), // site-local
        IPNetwork.Parse("ff00::/8"), // multicast
    ];

    // IPv6 global unicast is 2000::/3; everything outside it is unassigned or special.
    private static readonly IPNetwork GlobalUnicastV6 = IPNetwork.Parse("2000::/3");

    private readonly IPNetwork[] _allowed;
    private readonly HashSet<int> _allowedPorts;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;
    private readonly ILogger _logger;

    public CallbackUrlPolicy(IOptions<WebhookOptions> options, ILogger<CallbackUrlPolicy>? logger = null)
        : this(options, Dns.GetHostAddressesAsync, logger)
    {
    }

    /// <summary>With a resolver of one's own, so tests can give a host any addresses.</summary>
    internal CallbackUrlPolicy(IOptions<WebhookOptions> options, Func<string, CancellationToken, Task<IPAddress[]>> resolve,
        ILogger? logger = null)
    {
        _allowed = [.. options.Value.AllowedNetworks.Select(network => IPNetwork.Parse(network))];
        _allowedPorts = [.. options.Value.EffectiveAllowedPorts];
        _resolve = resolve;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>
    /// Checks the URL's form, then resolves its host and refuses it when any address it resolves to is not allowed
    /// (see <see cref="IsAddressAllowed"/>) or its port is not. The connection is checked again when it is made, as DNS can change.
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
        return RefusalOf(uri.IdnHost, uri.Port, addresses) is { } detail
            ? Refuse(uri.IdnHost, detail)
            : CallbackUrlCheck.Allowed(uri);
    }

    /// <summary>
    /// True for a global unicast address, or any address inside a configured <c>AllowedNetworks</c> block.
    /// Loopback, private, link-local (the cloud metadata endpoint 169.254.169.254 among them), unspecified,
    /// carrier-grade NAT, multicast, broadcast, documentation, benchmarking and reserved addresses are refused, and
    /// so are the IPv6 transition addresses (6to4, Teredo, NAT64, IPv4-mapped and -compatible) whatever they embed.
    /// </summary>
    public bool IsAddressAllowed(IPAddress address) => IsInAllowedNetwork(address) || IsGlobalUnicast(address);

    /// <summary>
    /// Why a connection to <paramref name="host"/>:<paramref name="port"/> at <paramref name="addresses"/> is refused
    /// (for the log, never for the caller), or null when it may go ahead. The port may be any when every address is
    /// inside <c>AllowedNetworks</c>.
    /// </summary>
    internal string? RefusalOf(string host, int port, IReadOnlyList<IPAddress> addresses)
    {
        if (addresses.Count == 0)
        {
            return $"'{host}' does not resolve";
        }

        // One refused address refuses the host: answers that mix public and internal addresses are how rebinding
        // attacks get past a check.
        if (addresses.FirstOrDefault(address => !IsAddressAllowed(address)) is { } refused)
        {
            return $"'{host}' resolves to {refused}";
        }

        if (!_allowedPorts.Contains(port) && !addresses.All(IsInAllowedNetwork))
        {
            return $"port {port} is not allowed";
        }

        return null;
    }

    /// <summary>At connect time: throws <see cref="CallbackAddressRefusedException"/> (with the generic text) when refused.</summary>
    internal void EnsureConnectable(string host, int port, IReadOnlyList<IPAddress> addresses)
    {
        if (RefusalOf(host, port, addresses) is { } detail)
        {
            LogRefused(_logger, host, detail + " when connecting");
            throw new CallbackAddressRefusedException(RefusedText);
        }
    }

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

    private CallbackUrlCheck Refuse(string host, string detail)
    {
        LogRefused(_logger, host, detail);
        return CallbackUrlCheck.Refused(RefusedText);
    }

    private bool IsInAllowedNetwork(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        // An exception for 127.0.0.0/8 also covers ::ffff:127.0.0.1, the same host written as IPv6.
        return _allowed.Any(network => network.Contains(address))
               || (address.IsIPv4MappedToIPv6 && _allowed.Any(network => network.Contains(address.MapToIPv4())));
    }

    private static bool IsGlobalUnicast(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => !Refused.Any(network => network.Contains(address)),
            // IPv4-mapped addresses are tested on their own: IPNetwork.Contains is not to be relied on for them.
            AddressFamily.InterNetworkV6 => !address.IsIPv4MappedToIPv6 && GlobalUnicastV6.Contains(address)
                                            && !Refused.Any(network => network.Contains(address)),
            _ => false,
        };
    }

    [LoggerMessage(EventName = "CallbackUrlRefused", Level = LogLevel.Information, Message = "Refused the callback host {Host}: {Detail}.")]
    private static partial void LogRefused(ILogger logger, string host, string detail);
}
