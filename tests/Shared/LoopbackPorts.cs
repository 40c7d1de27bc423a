using System.Net;
using System.Net.Sockets;

namespace TestHarness;

/// <summary>Ports for the processes a test (or the chaos driver) starts itself.</summary>
internal static class LoopbackPorts
{
    /// <summary>Where Linux's default ephemeral range starts, for a machine whose range cannot be read.</summary>
    private const int DefaultEphemeralStart = 32768;

    /// <summary>
    /// A port free on both 127.0.0.1 and [::1] right now ("localhost" may resolve to either), below the range the
    /// kernel gives the local end of outgoing connections. The process that listens on it binds it seconds later (a
    /// stack's gateway after every other service is healthy); a port from that range, as binding port 0 gives, could
    /// meanwhile become some connection's local port, and the bind then fails "address already in use" (a CI run's
    /// PostgreSQL stack did, while the other stack's gRPC clients reconnected every 2 s).
    /// </summary>
    public static int FreeOnBoth()
    {
        var below = EphemeralStart();
        var from = Math.Max(1024, below - 12_000);
        while (true)
        {
            var port = Random.Shared.Next(from, below);
            try
            {
                using var v4 = new TcpListener(IPAddress.Loopback, port);
                v4.Start();
                using var v6 = new TcpListener(IPAddress.IPv6Loopback, port);
                v6.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken on one of them; try another
            }
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (<c>net.ipv4.ip_local_port_range</c>).</summary>
    private static int EphemeralStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return range.Length > 0 && int.TryParse(range[0], out var start) && start > 2048 ? start : DefaultEphemeralStart;
        }
        catch (IOException)
        {
            return DefaultEphemeralStart;
        }
        catch (UnauthorizedAccessException)
        {
            return DefaultEphemeralStart;
        }
    }
}
