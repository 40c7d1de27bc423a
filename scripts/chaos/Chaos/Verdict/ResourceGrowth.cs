namespace Chaos.Verdict;

/// <summary>A process's footprint at one moment, from /proc/&lt;pid&gt;/status and /proc/&lt;pid&gt;/fd.</summary>
public sealed record ProcessFootprint(long RssBytes, int OpenFiles, int Threads);

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

        if (end.OpenFiles > start.OpenFiles + allowance.OpenFiles)
        {
            violations.Add($"{process}: open files {start.OpenFiles} → {end.OpenFiles} (limit {start.OpenFiles + allowance.OpenFiles})");
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

            return new ProcessFootprint(rss, Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length, threads);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
