using System.ComponentModel.DataAnnotations;

namespace Worker.Inference;

/// <summary>How the Worker reaches python-inference (section <c>Inference</c>).</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>Service-discovery address of python-inference.</summary>
    [Required]
    public Uri BaseAddress { get; set; } = new("https+http://python-inference");
}
