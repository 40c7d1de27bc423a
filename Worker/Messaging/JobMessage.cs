using System.Text.Json;

namespace Worker.Messaging;

/// <summary>
/// The body of a message on the <c>jobs</c> queue. It carries only the job id: the job store is the source of
/// truth for inputs and state, and the id doubles as the AMQP message id for idempotent consumers.
/// </summary>
public sealed record JobMessage(Guid JobId)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public ReadOnlyMemory<byte> ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static JobMessage? TryParse(ReadOnlyMemory<byte> body)
    {
        try
        {
            return JsonSerializer.Deserialize<JobMessage>(body.Span, Json) is { JobId: var id } message && id != Guid.Empty
                ? message
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
