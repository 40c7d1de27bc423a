using System.Buffers;
using System.Text.Json;

namespace Gateway.Rpc;

/// <summary>One response object: a result or an error, never both, and the request's id (null when unknown).</summary>
internal sealed class JsonRpcResponse
{
    private JsonRpcResponse(JsonElement? id, object? result, JsonRpcError? error) => (Id, Result, Error) = (id, result, error);

    public JsonElement? Id { get; }

    public object? Result { get; }

    public JsonRpcError? Error { get; }

    public static JsonRpcResponse Success(JsonElement? id, object? result) => new(id, result, null);

    public static JsonRpcResponse Failure(JsonElement? id, JsonRpcError error) => new(id, null, error);

    public void WriteTo(Utf8JsonWriter writer, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("jsonrpc", "2.0");
        if (Error is not null)
        {
            writer.WritePropertyName("error");
            JsonSerializer.Serialize(writer, Error, options);
        }
        else
        {
            writer.WritePropertyName("result");
            JsonSerializer.Serialize(writer, Result, options);
        }

        writer.WritePropertyName("id");
        if (Id is { } id)
        {
            // The raw text, so 1.50 or 12345678901234567890 comes back exactly as sent.
            writer.WriteRawValue(id.GetRawText(), skipInputValidation: true);
        }
        else
        {
            writer.WriteNullValue();
        }

        writer.WriteEndObject();
    }
}

/// <summary>What the body gets back: nothing (only notifications), one response, or a batch's responses.</summary>
internal sealed class JsonRpcReply
{
    private JsonRpcReply(IReadOnlyList<JsonRpcResponse> responses, bool isBatch) => (Responses, IsBatch) = (responses, isBatch);

    public IReadOnlyList<JsonRpcResponse> Responses { get; }

    public bool IsBatch { get; }

    public bool IsEmpty => Responses.Count == 0;

    /// <summary>The longest <c>data.retryAfter</c> among the reply's errors: the reply's <c>Retry-After</c>.</summary>
    public int? RetryAfter => Responses.Max(response => response.Error?.Data.RetryAfter);

    public static JsonRpcReply Single(JsonRpcResponse? response) => new(response is null ? [] : [response], false);

    public static JsonRpcReply Batch(IReadOnlyList<JsonRpcResponse> responses) => new(responses, true);

    public byte[] ToUtf8(JsonSerializerOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (IsBatch)
            {
                writer.WriteStartArray();
            }

            foreach (var response in Responses)
            {
                response.WriteTo(writer, options);
            }

            if (IsBatch)
            {
                writer.WriteEndArray();
            }
        }

        return buffer.WrittenSpan.ToArray();
    }
}
