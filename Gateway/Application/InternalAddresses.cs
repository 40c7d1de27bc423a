using System.Text.RegularExpressions;
using Gateway.Upstream.Worker;

namespace Gateway.Application;

/// <summary>
/// A failed job's error can quote a connection error from behind the gateway ("Connection refused (10.1.2.3:5001)",
/// "http://python-inference:8000/..."). What the public API returns has every URL, IP address and host:port replaced,
/// so the caller learns what went wrong but not where things run.
/// </summary>
internal static partial class InternalAddresses
{
    public const string Placeholder = "[internal address]";

    public static string? Scrub(string? text) => text is null ? null : Address().Replace(text, Placeholder);

    /// <summary>The job with its error's title and detail scrubbed.</summary>
    public static JobView Scrub(JobView job)
    {
        if (job.Error is not { } error)
        {
            return job;
        }

        error.Title = Scrub(error.Title);
        error.Detail = Scrub(error.Detail);
        return job;
    }

    // A URL; a bracketed IPv6 address; an IPv4 address; or host:port for a name (dotted or not) or localhost.
    [GeneratedRegex("""[a-z][a-z0-9+.\-]*://[^\s"'()<>]+|\[[0-9a-f:.%]+\](?::[0-9]{1,5})?|\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?::[0-9]{1,5})?\b|\b[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*:[0-9]{1,5}\b""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Address();
}
