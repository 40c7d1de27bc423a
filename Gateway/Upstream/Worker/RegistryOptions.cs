using System.ComponentModel.DataAnnotations;

namespace Gateway.Upstream.Worker;

/// <summary>How the gateway reaches the model registry, which the Worker hosts (section <c>Registry</c>).</summary>
public sealed class RegistryOptions
{
    public const string SectionName = "Registry";

    [Required]
    public Uri BaseAddress { get; set; } = new("https+http://worker");
}
