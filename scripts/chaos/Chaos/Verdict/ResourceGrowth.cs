namespace Chaos.Verdict;

/// <summary>
/// A process's footprint at one moment, from /proc/&lt;pid&gt;/status, /proc/&lt;pid&gt;/fd and its TCP table:
/// <paramref name="CallersConnections"/> of its open files are connections its callers opened to its listening ports
/// and hold (their pools grow and shrink with the latency they see: the callers' doing, not the process's);
/// <paramref name="OutgoingConnections"/> are established connections it opened itself (its own pools, to the other
/// services), which count as its own but are shown apart, so that a growth says whether it was sockets or files.
/// </summary>
public sealed record ProcessFootprint(long RssBytes, int OpenFiles, int Threads, int CallersConnections = 0, int OutgoingConnections = 0)
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
    /// <summary>How many of the soak's last readings (one a minute) a growth must show in to count: the last two minutes.</summary>
    public const int ReadingsAGrowthMustStayIn = 3;

    /// <summary>Why the footprint grew beyond the allowance between two readings; empty when it did not.</summary>
    public static IReadOnlyList<string> Violations(string process, ProcessFootprint start, ProcessFootprint end, GrowthAllowance allowance) =>
        LastingViolations(process, start, [end], allowance);

    /// <summary>
    /// Why the footprint grew beyond the allowance and stayed there: a measure counts only when it is over its limit in
    /// every one of <paramref name="lastReadings"/> (the soak's last minutes), and the message quotes its lowest. A leak
    /// stays; a pool that grew in a burst of latency a few seconds before the end (the process's own connections to
    /// the other services, which it closes after a minute idle) or a heap between two collections does not.
    /// </summary>
    public static IReadOnlyList<string> LastingViolations(
        string process, ProcessFootprint start, IReadOnlyList<ProcessFootprint> lastReadings, GrowthAllowance allowance)
    {
        ArgumentOutOfRangeException.ThrowIfZero(lastReadings.Count);
        var over = lastReadings.Count == 1 ? "" : $"; the lowest of the last {lastReadings.Count} readings, a minute apart";
        List<string> violations = [];
        var rssLimit = (long)(start.RssBytes * (1 + allowance.RssFraction)) + allowance.RssBytes;
        var rss = lastReadings.MinBy(r => r.RssBytes)!;
        if (rss.RssBytes > rssLimit)
        {
            violations.Add($"{process}: RSS {Mib(start.RssBytes)} → {Mib(rss.RssBytes)} MiB (limit {Mib(rssLimit)} MiB{over})");
        }

        var files = lastReadings.MinBy(r => r.OwnOpenFiles)!;
        if (files.OwnOpenFiles > start.OwnOpenFiles + allowance.OpenFiles)
        {
            violations.Add($"{process}: open files {start.OwnOpenFiles} → {files.OwnOpenFiles} (limit {start.OwnOpenFiles + allowance.OpenFiles}; " +
                $"not counting its callers' connections, {start.CallersConnections} → {files.CallersConnections}; " +
                $"of its own, connections it opened {start.OutgoingConnections} → {files.OutgoingConnections}{over})");
        }

        var threads = lastReadings.MinBy(r => r.Threads)!;
        if (threads.Threads > start.Threads + allowance.Threads)
        {
            violations.Add($"{process}: threads {start.Threads} → {threads.Threads} (limit {start.Threads + allowance.Threads}{over})");
        }

        return violations;
    }

    public static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Reads the footprints of live processes from /proc (null for one that is gone), the machine's TCP table once for
    /// all of them. That table is what makes a footprint dear: the kernel walks every socket to print it (4-14 ms a
    /// read on these VMs, idle to 4,000 sockets). The run used to read it twice per process, and per descendant of
    /// each while finding the service's own process, at every scenario's start and end; every route stalled for a
    /// second at one such moment (the chaos run of 2026-12-04 11:53 UTC, docs/reliability-history.md). Only the soak reads
    /// footprints now; everything else needs <see cref="Rss"/>.
    /// </summary>
    public static IReadOnlyList<ProcessFootprint?> Read(IReadOnlyList<int> pids)
    {
        // Every process here shares the one network namespace, whose table /proc/net/tcp is.
        var table = ReadTcpTable();
        return [.. pids.Select(pid => Read(pid, table))];
    }

    /// <summary>One process's footprint (null when it is gone); see <see cref="Read(IReadOnlyList{int})"/>.</summary>
    public static ProcessFootprint? Read(int pid) => Read([pid])[0];

    /// <summary>A live process's resident memory from /proc/&lt;pid&gt;/status; 0 when it is gone.</summary>
    public static long Rss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return RssBytes(line);
                }
            }

            return 0; // a kernel thread, or a zombie: no memory of its own
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>The bytes of a /proc/&lt;pid&gt;/status <c>VmRSS:</c> line, which counts in kB.</summary>
    private static long RssBytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;

    private static List<string> ReadTcpTable()
    {
        try
        {
            return [.. File.ReadLines("/proc/net/tcp").Concat(File.ReadLines("/proc/net/tcp6"))];
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static ProcessFootprint? Read(int pid, IReadOnlyList<string> tcpTable)
    {
        try
        {
            long rss = 0;
            var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = RssBytes(line);
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
            var (callers, outgoing) = Connections(sockets, tcpTable);
            return new ProcessFootprint(rss, descriptors.Length, threads, callers, outgoing);
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
    /// its own listening ports (its callers'), and how many are established connections from any other port (its own,
    /// outgoing), from the lines of /proc/net/tcp and tcp6 (local address, state, inode).
    /// </summary>
    public static (int Callers, int Outgoing) Connections(IReadOnlySet<string> socketInodes, IEnumerable<string> tcpTable)
    {
        const string Listen = "0A", Established = "01";
        var rows = tcpTable
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9 && f[0].EndsWith(':') && socketInodes.Contains(f[9]))
            .Select(f => (Port: f[1][(f[1].LastIndexOf(':') + 1)..], State: f[3]))
            .ToList();
        var listening = rows.Where(r => r.State == Listen).Select(r => r.Port).ToHashSet(StringComparer.Ordinal);
        var established = rows.Where(r => r.State == Established).ToList();
        var callers = established.Count(r => listening.Contains(r.Port));
        return (callers, established.Count - callers);
    }
}
