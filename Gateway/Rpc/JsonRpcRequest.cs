using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Gateway.Application;

namespace Gateway.Rpc;

/// <summary>
/// A request object that passed the checks of the specification's section 4. <c>Id</c> is the id as sent
/// (JSON null included), or null for a notification.
/// </summary>
internal sealed record JsonRpcRequest(JsonElement? Id, string Method, JsonElement Params)
{
    public bool IsNotification => Id is null;

    /// <summary>
    /// Reads one element of the body. When it is not a valid request, <paramref name="id"/> is the id to answer
    /// with (null unless a valid one could be read) and <paramref name="reason"/> says what was wrong.
    /// </summary>
    public static bool TryRead(JsonElement element, [NotNullWhen(true)] out JsonRpcRequest? request,
        out JsonElement? id, [NotNullWhen(false)] out string? reason)
    {
        request = null;
        id = null;
        if (element.ValueKind != JsonValueKind.Object)
        {
            reason = "A request is a JSON object.";
            return false;
        }

        if (element.TryGetProperty("id", out var idElement))
        {
            if (idElement.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.Null))
            {
                reason = "'id' must be a string, a number or null.";
                return false;
            }

            // Cloned so the answer can echo the id exactly as sent after the body's document is gone.
            id = idElement.Clone();
        }

        if (!element.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String
            || !version.ValueEquals("2.0"))
        {
            reason = "'jsonrpc' must be exactly \"2.0\".";
            return false;
        }

        if (!element.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String
            || !JsonText.TryGetString(method, out var name))
        {
            reason = "'method' must be a string of valid Unicode text.";
            return false;
        }

        if (element.TryGetProperty("params", out var parameters)
            && parameters.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
        {
            reason = "'params', when present, must be an object or an array.";
            return false;
        }

        request = new JsonRpcRequest(id, name!, parameters);
        reason = null;
        return true;
    }
}
