using System.Net;
using System.Net.Sockets;

namespace Worker.Webhooks;

/// <summary>
/// The webhook client's connections. The host is resolved here, at connect time, and every address it resolves to is
/// checked again: a name that resolved to a public address when the URL was validated cannot be re-pointed at an
/// internal one before the connection is made (DNS rebinding).
/// </summary>
internal static class CallbackConnection
{
    public static SocketsHttpHandler CreateHandler(CallbackUrlPolicy policy) => new()
    {
        // A redirect could lead anywhere, the places the policy refuses included; a 3xx counts as a failure.
        AllowAutoRedirect = false,
        // Through a proxy the connection would go to the proxy, which would then reach the callback host unchecked.
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectCallback = (context, cancellationToken) => ConnectAsync(policy, context.DnsEndPoint, cancellationToken),
    };

    private static async ValueTask<Stream> ConnectAsync(CallbackUrlPolicy policy, DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        var addresses = await policy.ResolveAsync(endpoint.Host, cancellationToken);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        // One refused address (or a port not allowed) refuses the host, as when the URL was validated.
        policy.EnsureConnectable(endpoint.Host, endpoint.Port, addresses);

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>A connection was refused because the callback host resolved to an address the policy does not allow.</summary>
internal sealed class CallbackAddressRefusedException(string message) : Exception(message);
