using System.Collections.Concurrent;
using Gateway.Application;
using Gateway.Rpc;

namespace Gateway.Tests.Rpc;

/// <summary>
/// The methods the specification's examples call (subtract, sum, update, notify_hello, notify_sum, get_data),
/// plus <c>fail</c>, which throws. Each records its name in <see cref="Calls"/> so notifications can be seen to run.
/// </summary>
internal sealed class SpecificationMethods
{
    public const string SecretInExceptionMessage = "connection string Password=hunter2";

    public ConcurrentQueue<string> Calls { get; } = new();

    public JsonRpcMethodTable Table => new(
    [
        Method("subtract", p => p.ValueKind == JsonValueKind.Array
            ? p[0].GetInt32() - p[1].GetInt32()
            : p.GetProperty("minuend").GetInt32() - p.GetProperty("subtrahend").GetInt32()),
        Method("sum", Sum),
        Method("notify_sum", Sum),
        Method("update", _ => null),
        Method("notify_hello", _ => null),
        Method("get_data", _ => new object[] { "hello", 5 }),
        Method("fail", _ => throw new InvalidOperationException(SecretInExceptionMessage)),
    ]);

    private static object Sum(JsonElement p) => p.EnumerateArray().Sum(number => number.GetInt32());

    private JsonRpcMethod Method(string name, Func<JsonElement, object?> body) => new(name, null, "test", "test", call =>
    {
        Calls.Enqueue(name);
        return Task.FromResult(Outcome.Success<object?>(body(call.Params)));
    });
}
