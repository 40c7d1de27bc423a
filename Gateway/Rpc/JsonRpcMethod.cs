using System.Text.Json;

namespace Gateway.Rpc;

public delegate Task<JsonRpcOutcome> JsonRpcHandler(JsonRpcCall call);

/// <summary>
/// One entry of the dispatch table. <paramref name="Scope"/> is the authorization policy a caller must satisfy
/// (null: any authenticated caller); <paramref name="Params"/> and <paramref name="Summary"/> document it.
/// </summary>
public sealed record JsonRpcMethod(string Name, string? Scope, string Params, string Summary, JsonRpcHandler Handler);

/// <summary>One invocation: the <c>params</c> member as sent (<see cref="JsonValueKind.Undefined"/> when absent).</summary>
public sealed record JsonRpcCall(JsonElement Params, HttpContext HttpContext)
{
    public IServiceProvider Services => HttpContext.RequestServices;

    public CancellationToken CancellationToken => HttpContext.RequestAborted;
}
