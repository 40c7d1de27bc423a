using System.Diagnostics.CodeAnalysis;

namespace Gateway.Rpc;

/// <summary>The methods <c>POST /rpc</c> dispatches to, by exact (case-sensitive) name.</summary>
public sealed class JsonRpcMethodTable
{
    private readonly Dictionary<string, JsonRpcMethod> _methods;

    public JsonRpcMethodTable(IEnumerable<JsonRpcMethod> methods)
    {
        ArgumentNullException.ThrowIfNull(methods);
        _methods = new Dictionary<string, JsonRpcMethod>(StringComparer.Ordinal);
        foreach (var method in methods)
        {
            if (IsReserved(method.Name))
            {
                throw new ArgumentException($"Method names starting with 'rpc.' are reserved: {method.Name}.", nameof(methods));
            }

            if (!_methods.TryAdd(method.Name, method))
            {
                throw new ArgumentException($"The method {method.Name} is listed twice.", nameof(methods));
            }
        }
    }

    public IEnumerable<JsonRpcMethod> Methods => _methods.Values;

    public bool TryGet(string name, [NotNullWhen(true)] out JsonRpcMethod? method) => _methods.TryGetValue(name, out method);

    // The specification reserves the rpc. prefix for extensions; none is implemented.
    private static bool IsReserved(string name) => name.StartsWith("rpc.", StringComparison.Ordinal);
}
