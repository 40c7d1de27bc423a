using System.Security.Claims;
using System.Text.Json;
using Gateway.Application;
using Gateway.Limits;

namespace Gateway.Rpc;

/// <summary>A method's body: a result to serialise, or the problem the same call would have over REST.</summary>
public delegate Task<Outcome<object?>> JsonRpcHandler(JsonRpcCall call);

/// <summary>
/// One entry of the dispatch table. <paramref name="Scope"/> is the authorization policy a caller must satisfy
/// (null: any authenticated caller); <paramref name="RateLimitPolicy"/> the rate-limit policy each call is charged
/// to, the one its REST twin uses (null: none beyond the request's own <c>rpc</c> token); <paramref name="Upstream"/>
/// the service whose pool of call slots a call holds a slot of, as its REST twin does (null: it waits on none);
/// <paramref name="Params"/>
/// and <paramref name="Summary"/> document it.
/// </summary>
public sealed record JsonRpcMethod(string Name, string? Scope, string Params, string Summary, JsonRpcHandler Handler,
    UpstreamService? Upstream = null, string? RateLimitPolicy = null)
{
    /// <summary>A method whose body is a translation onto the request's <typeparamref name="TService"/>.</summary>
    public static JsonRpcMethod For<TService>(string name, string? scope, string rateLimitPolicy, UpstreamService upstream,
        string @params, string summary, Func<TService, JsonRpcCall, Task<Outcome<object?>>> handler) where TService : notnull =>
        new(name, scope, @params, summary,
            call => handler(call.HttpContext.RequestServices.GetRequiredService<TService>(), call), upstream, rateLimitPolicy);
}

/// <summary>One invocation: the <c>params</c> member as sent (<see cref="JsonValueKind.Undefined"/> when absent).</summary>
public sealed record JsonRpcCall(JsonElement Params, HttpContext HttpContext)
{
    public ClaimsPrincipal User => HttpContext.User;

    public CancellationToken CancellationToken => HttpContext.RequestAborted;
}
