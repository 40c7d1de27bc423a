using System.Text.RegularExpressions;

namespace Chaos;

/// <summary>
/// Which console lines of a resource the run keeps. .NET's console logger starts each entry with its level
/// (<c>info: Category[id]</c>, in colour when the terminal allows) and indents the message and stack trace under it;
/// the filter drops <c>info</c>, <c>dbug</c> and <c>trce</c> entries with their indented lines, and keeps the rest.
/// </summary>
public static partial class ConsoleLogFilter
{
    /// <summary>Whether to keep <paramref name="content"/>, given whether the line before it was kept.</summary>
    public static bool Keeps(string content, bool previousKept)
    {
        var text = Timestamp().Replace(Colour().Replace(content, ""), "");
        var entry = Entry().Match(text);
        return entry.Success ? entry.Groups["level"].Value is not ("info" or "dbug" or "trce")
            : !text.StartsWith(' ') || previousKept; // an indented line belongs to the entry above it
    }

    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex Colour();

    // Aspire's, in front of every line it collects.
    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\S+Z ")]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"^(?<level>trce|dbug|info|warn|fail|crit): ")]
    private static partial Regex Entry();
}
