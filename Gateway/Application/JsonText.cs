using System.Text.Json;

namespace Gateway.Application;

/// <summary>
/// JSON that parses can still hold text that is not Unicode: an escaped lone UTF-16 surrogate (<c>"\ud800"</c>) or, in
/// a body read without transcoding, invalid UTF-8. Reading such a string throws; these checks turn it into a
/// validation error of the field instead of a 500.
/// </summary>
internal static class JsonText
{
    public const string NotUnicode = "Must be valid Unicode text (no lone UTF-16 surrogate, no invalid UTF-8).";

    /// <summary>The string <paramref name="element"/> holds, or false when it is not valid Unicode.</summary>
    public static bool TryGetString(JsonElement element, out string? value)
    {
        try
        {
            value = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = null;
            return false;
        }
    }

    /// <summary>Whether every string and property name in <paramref name="element"/>, at any depth, is valid Unicode.</summary>
    public static bool IsUnicode(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return TryGetString(element, out _);
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (!IsUnicode(item))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (!IsUnicodeName(property) || !IsUnicode(property.Value))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return true;
        }
    }

    private static bool IsUnicodeName(JsonProperty property)
    {
        try
        {
            _ = property.Name;
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
