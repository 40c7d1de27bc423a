using System.Net;
using System.Net.Sockets;

namespace TestHarness;

/// <summary>Ports for the processes a test (or the chaos driver) starts itself.</summary>
internal static class LoopbackPorts
{
    /// <summary>A port free on both 127.0.0.1 and [::1] right now ("localhost" may resolve to either).</summary>
    public static int FreeOnBoth()
    {
        while (true)
        {
            using var v4 = new TcpListener(IPAddress.Loopback, 0);
            v4.Start();
            var port = ((IPEndPoint)v4.LocalEndpoint).Port;
            try
            {
                using var v6 = new TcpListener(IPAddress.IPv6Loopback, port);
                v6.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken on IPv6; try another
            }
        }
    }
}
