using System.Text.Json;
using Gateway.Application;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;

namespace Gateway.Rpc;

/// <summary>
/// Binds <c>params</c> given by name (an object) or by position (an array, in the order of the names given).
/// A JSON <c>null</c> counts as absent; members it does not know are ignored. Type errors collect per field
/// and become one <c>-32602</c> problem naming every field.
/// </summary>
internal sealed class JsonRpcParams
{
    private readonly JsonElement _params;
    private readonly string[] _names;
    private readonly Dictionary<string, string[]> _errors = [];

    private JsonRpcParams(JsonElement @params, string[] names) => (_params, _names) = (@params, names);

    public static JsonRpcParams Bind(JsonElement @params, params string[] names)
    {
        var bound = new JsonRpcParams(@params, names);
        if (@params.ValueKind == JsonValueKind.Array && @params.GetArrayLength() > names.Length)
        {
            bound._errors["params"] = [names.Length == 0
                ? "This method takes no parameters."
                : $"At most {names.Length} positional parameters are accepted ({string.Join(", ", names)})."];
        }

        return bound;
    }

    /// <summary>The binding errors as a validation problem, or null when every parameter bound.</summary>
    public ProblemDetails? Problem => _errors.Count == 0
        ? null
        : ProblemDetailsContract.Create(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
            "Invalid params", errors: _errors);

    /// <summary>The binding problem, or else what <paramref name="call"/> gives once every parameter bound.</summary>
    public async Task<Outcome<object?>> ThenAsync<T>(Func<Task<Outcome<T>>> call) =>
        Problem is { } unbound ? unbound : (await call()).Map(value => (object?)value);

    public string? OptionalString(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            _errors[name] = ["Must be a string."];
            return null;
        }

        if (!JsonText.TryGetString(value, out var text))
        {
            _errors[name] = [JsonText.NotUnicode];
        }

        return text;
    }

    public IReadOnlyList<JsonElement>? OptionalArray(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            _errors[name] = ["Must be an array."];
            return null;
        }

        // Cloned so the inputs outlive the request's JsonDocument, whoever keeps them.
        return [.. value.Clone().EnumerateArray()];
    }

    /// <summary>The GUID, or <see cref="Guid.Empty"/> with an error recorded when it is missing or malformed.</summary>
    public Guid RequiredGuid(string name)
    {
        if (!TryGet(name, out var value))
        {
            _errors[name] = ["Required."];
            return Guid.Empty;
        }

        if (value.ValueKind != JsonValueKind.String || !JsonText.TryGetString(value, out var text)
            || !Guid.TryParse(text, out var id))
        {
            _errors[name] = ["Must be a GUID string."];
            return Guid.Empty;
        }

        return id;
    }

    private bool TryGet(string name, out JsonElement value)
    {
        value = default;
        switch (_params.ValueKind)
        {
            case JsonValueKind.Object:
                _ = _params.TryGetProperty(name, out value);
                break;
            case JsonValueKind.Array:
                var position = Array.IndexOf(_names, name);
                if (position >= 0 && position < _params.GetArrayLength())
                {
                    value = _params[position];
                }

                break;
        }

        return value.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);
    }
}
