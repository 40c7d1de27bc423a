// Compiled, with inference.proto, into every C# service that calls inference.v1 (see their .csproj files).
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;

namespace Inference.V1;

public sealed partial class ModelInput
{
    /// <summary>
    /// An input as the JSON APIs carry it: text and arrays of numbers are the two input kinds; any other JSON value
    /// travels as it is, so python-inference rejects it in the same words as over HTTP. A number too large for a
    /// double is infinite, as Python reads it.
    /// </summary>
    public static ModelInput FromJson(JsonElement input) => input.ValueKind switch
    {
        JsonValueKind.String => new ModelInput { Text = input.GetString() },
        JsonValueKind.Array when input.EnumerateArray().All(item => item.ValueKind == JsonValueKind.Number) =>
            new ModelInput { Features = new Features { Values = { input.EnumerateArray().Select(ToDouble) } } },
        _ => new ModelInput { Other = ToValue(input) },
    };

    private static Value ToValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => Value.ForString(element.GetString()),
        JsonValueKind.Number => Value.ForNumber(ToDouble(element)),
        JsonValueKind.True => Value.ForBool(true),
        JsonValueKind.False => Value.ForBool(false),
        JsonValueKind.Array => Value.ForList([.. element.EnumerateArray().Select(ToValue)]),
        JsonValueKind.Object => Value.ForStruct(ToStruct(element)),
        _ => Value.ForNull(),
    };

    private static Struct ToStruct(JsonElement element)
    {
        var result = new Struct();
        foreach (var property in element.EnumerateObject())
        {
            result.Fields[property.Name] = ToValue(property.Value);
        }

        return result;
    }

    private static double ToDouble(JsonElement number) =>
        number.TryGetDouble(out var value) ? value
        : number.GetRawText().StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
}
