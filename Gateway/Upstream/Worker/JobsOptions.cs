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

    /// <summary>
    /// How many submission calls one owner may have in flight to the Worker; submissions beyond them wait and go
    /// together in the next call (<see cref="JobSubmissionCoalescer"/>). 0: every submission is a call of its own.
    /// </summary>
    [Range(0, 1000)]
    public int MaxSubmissionCallsPerOwner { get; set; } = 2;

    /// <summary>The most submissions one call to the Worker carries (the Worker takes at most 100).</summary>
    [Range(1, 100)]
    public int MaxSubmissionsPerCall { get; set; } = 100;
}
