using System.ComponentModel.DataAnnotations;

namespace Gateway.Rpc;

/// <summary>Limits of the JSON-RPC endpoint (section <c>JsonRpc</c>).</summary>
public sealed class JsonRpcOptions
{
    public const string SectionName = "JsonRpc";

    /// <summary>The most requests one batch may hold; a larger batch is refused whole.</summary>
    [Range(1, 1000)]
    public int MaxBatchSize { get; set; } = 50;
}
