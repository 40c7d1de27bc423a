using System.Net;
using System.Net.Sockets;

namespace TestHarness;

/// <summary>Ports for the processes a test (or the chaos driver) starts itself.</summary>
internal static class LoopbackPorts
{
    /// <summary>Where Linux's default ephemeral range starts and ends, for a machine whose range cannot be read.</summary>
    private static readonly (int First, int Last) DefaultEphemeral = (32768, 60999);

    /// <summary>
    /// The range Aspire gives the target ports of executables and the ports of proxyless endpoints (a Worker replica's
    /// own port, python-inference's, the local broker's and database's) unless <c>ASPIRE_PROXYLESS_ENDPOINT_PORT_RANGE</c>
    /// says otherwise.
    /// </summary>
    private static readonly (int First, int Last) DefaultAspire = (10000, 32767);

    private const int FirstUnprivileged = 1024;

    /// <summary>
    /// A port free on both 127.0.0.1 and [::1] right now ("localhost" may resolve to either), outside the ranges other
    /// processes are handed ports from. The process that listens on it binds it seconds later (a stack's gateway after
    /// every other service is healthy), and meanwhile a port from either range could be taken:
    /// <list type="bullet">
    /// <item>the kernel's ephemeral range, from which the local end of outgoing connections comes (a CI run's PostgreSQL
    /// stack failed so, while the other stack's gRPC clients reconnected every 2 s);</item>
    /// <item>Aspire's port range, which it counts up through as it starts each stack's resources (a run of the
    /// PostgreSQL stack failed so: the port picked for its gateway was given to a resource of the SQLite stack).</item>
    /// </list>
    /// </summary>
    public static int FreeOnBoth()
    {
        var free = FreeRanges([Ephemeral(), AspireRange()]);
        var size = free.Sum(range => range.Last - range.First + 1);
        while (true)
        {
            var port = Pick(free, Random.Shared.Next(size));
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

    /// <summary>The unprivileged ports outside every one of <paramref name="taken"/>, as ranges in order.</summary>
    internal static IReadOnlyList<(int First, int Last)> FreeRanges(IEnumerable<(int First, int Last)> taken)
    {
        var free = new List<(int First, int Last)>();
        var next = FirstUnprivileged;
        foreach (var (first, last) in taken.OrderBy(range => range.First))
        {
            if (first > next)
            {
                free.Add((next, first - 1));
            }

            next = Math.Max(next, last + 1);
        }

        if (next <= IPEndPoint.MaxPort)
        {
            free.Add((next, IPEndPoint.MaxPort));
        }

        return free.Count > 0 ? free : throw new InvalidOperationException("no port lies outside the ephemeral and Aspire ranges");
    }

    private static int Pick(IReadOnlyList<(int First, int Last)> ranges, int index)
    {
        foreach (var (first, last) in ranges)
        {
            if (index <= last - first)
            {
                return first + index;
            }

            index -= last - first + 1;
        }

        throw new ArgumentOutOfRangeException(nameof(index));
    }

    /// <summary>The kernel's ephemeral range (<c>net.ipv4.ip_local_port_range</c>).</summary>
    private static (int First, int Last) Ephemeral()
    {
        try
        {
            return Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range"), [' ', '\t', '\n']) ?? DefaultEphemeral;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return DefaultEphemeral;
        }
    }

    /// <summary>Aspire's port range, which <see cref="FreeOnBoth"/> avoids.</summary>
    internal static (int First, int Last) AspireRange() =>
        Parse(Environment.GetEnvironmentVariable("ASPIRE_PROXYLESS_ENDPOINT_PORT_RANGE"), ['-']) ?? DefaultAspire;

    private static (int First, int Last)? Parse(string? text, char[] separators)
    {
        var parts = (text ?? "").Split(separators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length == 2 && int.TryParse(parts[0], out var first) && int.TryParse(parts[1], out var last)
               && first <= last ? (first, last) : null;
    }
}
