using System.ComponentModel.DataAnnotations;

namespace Worker.Jobs;

/// <summary>Job storage, admission and retention settings (section <c>Jobs</c>); queueing is in <c>Messaging</c>.</summary>
public sealed class JobsOptions : IValidatableObject
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

    /// <summary>
    /// How many unfinished (queued or running) jobs one owner may have; a submission past it is refused with 429
    /// <c>job_quota_exceeded</c>. Counted in the database, so it holds across every Worker replica.
    /// </summary>
    [Range(0, 10_000_000)]
    public int MaxUnfinishedPerOwner { get; set; } = 1000;

    /// <summary>Owners with a cap of their own instead of <see cref="MaxUnfinishedPerOwner"/> (0 suspends submissions).</summary>
    public List<OwnerQuota> OwnerQuotas { get; set; } = [];

    /// <summary>The <c>Retry-After</c> of a submission refused by the quota.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan QuotaRetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a finished job (and its audit rows) is kept after it finished; then the retention sweeper deletes it,
    /// and its idempotency key with it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often each replica's retention sweeper looks for expired jobs.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan RetentionSweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Jobs deleted per transaction: a sweep never holds locks on more rows than this.</summary>
    [Range(1, 10_000)]
    public int RetentionBatchSize { get; set; } = 500;

    /// <summary>The cap on <paramref name="owner"/>'s unfinished jobs.</summary>
    public int MaxUnfinishedFor(string owner) =>
        OwnerQuotas.FirstOrDefault(quota => quota.Owner == owner)?.MaxUnfinished ?? MaxUnfinishedPerOwner;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (OwnerQuotas.Any(quota => string.IsNullOrWhiteSpace(quota.Owner) || quota.MaxUnfinished < 0))
        {
            yield return new ValidationResult("Jobs:OwnerQuotas entries need an Owner and a MaxUnfinished of 0 or more.",
                [nameof(OwnerQuotas)]);
        }
    }
}

/// <summary>One owner's own cap on unfinished jobs (<c>Jobs:OwnerQuotas</c>).</summary>
public sealed class OwnerQuota
{
    public string Owner { get; set; } = string.Empty;

    public int MaxUnfinished { get; set; }
}
