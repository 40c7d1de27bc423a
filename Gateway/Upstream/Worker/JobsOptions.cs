using System.ComponentModel.DataAnnotations;

namespace Gateway.Upstream.Worker;

/// <summary>How the gateway reaches the Worker, which owns jobs (section <c>Jobs</c>).</summary>
public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    [Required]
    public Uri BaseAddress { get; set; } = new("https+http://worker");

    [Range(1, 100_000)]
    public int MaxBatchSize { get; set; } = 1000;
}
