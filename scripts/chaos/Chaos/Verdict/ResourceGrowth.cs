namespace Chaos.Verdict;

/// <summary>
/// A process's footprint at one moment, from /proc/&lt;pid&gt;/status, /proc/&lt;pid&gt;/fd and its TCP table:
/// <paramref name="CallersConnections"/> of its open files are connections its callers opened to its listening ports
/// and hold (their pools grow and shrink with the latency they see: the callers' doing, not the process's).
/// </summary>
public sealed record ProcessFootprint(long RssBytes, int OpenFiles, int Threads, int CallersConnections = 0)
{
    /// <summary>The open files the process itself holds: all but its callers' established connections.</summary>
    public int OwnOpenFiles => OpenFiles - CallersConnections;
}

/// <summary>What "no leak" allows between the footprint after warm-up and at the end of a soak.</summary>
public sealed record GrowthAllowance(double RssFraction, long RssBytes, int OpenFiles, int Threads)
{
    /// <summary>RSS within 10 % + 32 MiB (a GC heap breathes); open files and threads within a few of the start (pools).</summary>
    public static readonly GrowthAllowance Default = new(0.10, 32L * 1024 * 1024, 8, 8);
}

public static class ResourceGrowth
{
    /// <summary>Why the footprint grew beyond the allowance; empty when it did not.</summary>
    public static IReadOnlyList<string> Violations(string process, ProcessFootprint start, ProcessFootprint end, GrowthAllowance allowance)
    {
        List<string> violations = [];
        var rssLimit = (long)(start.RssBytes * (1 + allowance.RssFraction)) + allowance.RssBytes;
        if (end.RssBytes > rssLimit)
        {
            violations.Add($"{process}: RSS {Mib(start.RssBytes)} → {Mib(end.RssBytes)} MiB (limit {Mib(rssLimit)} MiB)");
        }

        if (end.OwnOpenFiles > start.OwnOpenFiles + allowance.OpenFiles)
        {
            violations.Add($"{process}: open files {start.OwnOpenFiles} → {end.OwnOpenFiles} (limit {start.OwnOpenFiles + allowance.OpenFiles}; " +
                $"not counting its callers' connections, {start.CallersConnections} → {end.CallersConnections})");
        }

        if (end.Threads > start.Threads + allowance.Threads)
        {
            violations.Add($"{process}: threads {start.Threads} → {end.Threads} (limit {start.Threads + allowance.Threads})");
        }

        return violations;
    }

    public static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads the footprint of a live process from /proc (null when it is gone).</summary>
    public static ProcessFootprint? Read(int pid)
    {
        try
        {
            long rss = 0;
            var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            var descriptors = Directory.GetFileSystemEntries($"/proc/{pid}/fd");
            var sockets = descriptors.Select(LinkTarget).OfType<string>()
                .Where(target => target.StartsWith("socket:[", StringComparison.Ordinal))
                .Select(target => target["socket:[".Length..^1]).ToHashSet(StringComparer.Ordinal);
            var table = File.ReadLines($"/proc/{pid}/net/tcp").Concat(File.ReadLines($"/proc/{pid}/net/tcp6"));
            return new ProcessFootprint(rss, descriptors.Length, threads, CallersConnections(sockets, table));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? LinkTarget(string descriptor)
    {
        try
        {
            return new FileInfo(descriptor).LinkTarget;
        }
        catch (IOException)
        {
            return null; // closed since the listing
        }
    }

    /// <summary>
    /// How many of a process's sockets (<paramref name="socketInodes"/>) are established connections accepted on one of
    /// its own listening ports, from the lines of /proc/net/tcp and tcp6 (local address, state, inode).
    /// </summary>
    public static int CallersConnections(IReadOnlySet<string> socketInodes, IEnumerable<string> tcpTable)
    {
        const string Listen = "0A", Established = "01";
        var rows = tcpTable
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9 && f[0].EndsWith(':') && socketInodes.Contains(f[9]))
            .Select(f => (Port: f[1][(f[1].LastIndexOf(':') + 1)..], State: f[3]))
            .ToList();
        var listening = rows.Where(r => r.State == Listen).Select(r => r.Port).ToHashSet(StringComparer.Ordinal);
        return rows.Count(r => r.State == Established && listening.Contains(r.Port));
    }
}
