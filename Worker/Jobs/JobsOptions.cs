using System.ComponentModel.DataAnnotations;

namespace Worker.Jobs;

/// <summary>Job storage and admission settings (section <c>Jobs</c>); queueing is in <c>Messaging</c>.</summary>
public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    /// <summary>
    /// The SQLite file that holds jobs, the outbox, the registry and the audit log (with <c>Database:Provider=sqlite</c>,
    /// the default); the AppHost puts it in the run's state folder.
    /// </summary>
    [Required]
    public string DatabasePath { get; set; } = "jobs.db";

    [Range(1, 100_000)]
    public int MaxBatchSize { get; set; } = 1000;

    [Range(1, 1000)]
    public int MaxPageSize { get; set; } = 100;
}
