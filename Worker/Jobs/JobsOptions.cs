using System.ComponentModel.DataAnnotations;

namespace Worker.Jobs;

/// <summary>Job storage, queueing and processing settings (section <c>Jobs</c>).</summary>
public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    /// <summary>The SQLite file that holds job state; the AppHost puts it in the run's state folder.</summary>
    [Required]
    public string DatabasePath { get; set; } = "jobs.db";

    [Required]
    public string QueueName { get; set; } = "jobs";

    [Range(1, 100_000)]
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>Deliveries of one job while python-inference is unavailable before the job is failed.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    [Range(1, 1000)]
    public ushort PrefetchCount { get; set; } = 16;

    /// <summary>How many deliveries one Worker processes at once.</summary>
    [Range(1, 256)]
    public ushort Concurrency { get; set; } = 4;

    /// <summary>How long a submission waits for the broker's confirm before it is refused with 503.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
