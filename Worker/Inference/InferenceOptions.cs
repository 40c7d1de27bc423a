using System.ComponentModel.DataAnnotations;

namespace Worker.Inference;

/// <summary>How the Worker reaches python-inference (section <c>Inference</c>).</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>Service-discovery address of python-inference.</summary>
    [Required]
    public Uri BaseAddress { get; set; } = new("https+http://python-inference");

    /// <summary>One call's time limit; a batch of up to 1,000 inputs takes well under a second.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
