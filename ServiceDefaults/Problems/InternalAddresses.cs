using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;

namespace ServiceDefaults.Problems;

/// <summary>
/// A failed job's error can quote a connection error from behind the edge ("Connection refused (10.1.2.3:5001)",
/// "http://python-inference:8000/..."). What leaves the system (the public API, webhooks) has every URL, IP address
/// and host:port replaced, so the reader learns what went wrong but not where things run.
/// </summary>
public static partial class InternalAddresses
{
    public const string Placeholder = "[internal address]";

    public static string? Scrub(string? text) => text is null ? null : Address().Replace(text, Placeholder);

    /// <summary>A copy of the problem with its title and detail scrubbed (its members kept as they are).</summary>
    public static ProblemDetails? Scrub(ProblemDetails? problem)
    {
        if (problem is null)
        {
            return null;
        }

        var scrubbed = new ProblemDetails
        {
            Type = problem.Type,
            Title = Scrub(problem.Title),
            Status = problem.Status,
            Detail = Scrub(problem.Detail),
            Instance = problem.Instance,
        };
        foreach (var (name, value) in problem.Extensions)
        {
            scrubbed.Extensions[name] = value;
        }

        return scrubbed;
    }

    // A URL; a bracketed IPv6 address; an IPv4 address; or host:port for a name (dotted or not) or localhost.
    [GeneratedRegex("""[a-z][a-z0-9+.\-]*://[^\s"'()<>]+|\[[0-9a-f:.%]+\](?::[0-9]{1,5})?|\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?::[0-9]{1,5})?\b|\b[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*:[0-9]{1,5}\b""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Address();
}
