using System.ComponentModel.DataAnnotations;

namespace Worker.Messaging;

/// <summary>The broker topology the Worker owns and how it talks to it (section <c>Messaging</c>).</summary>
public sealed class MessagingOptions : IValidatableObject
{
    public const string SectionName = "Messaging";

    [Required]
    public string JobsQueue { get; set; } = "jobs";

    /// <summary>Where a job message ends after <see cref="MaxAttempts"/>, with its last error in a header.</summary>
    [Required]
    public string DeadLetterQueue { get; set; } = "jobs.dead";

    /// <summary>
    /// Back-off before the 2nd, 3rd, … attempt; each delay is a TTL queue that dead-letters back to the jobs queue.
    /// Empty means <see cref="DefaultRetryDelays"/>. (No initial items: the configuration binder appends to a list.)
    /// </summary>
    public List<TimeSpan> RetryDelays { get; set; } = [];

    public static readonly IReadOnlyList<TimeSpan> DefaultRetryDelays =
        [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60)];

    public IReadOnlyList<TimeSpan> EffectiveRetryDelays => RetryDelays.Count > 0 ? RetryDelays : DefaultRetryDelays;

    /// <summary>Deliveries of one job before it is failed and dead-lettered.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The fanout exchange for domain events; every consumer has its own queue on it.</summary>
    [Required]
    public string EventsExchange { get; set; } = "events";

    [Required]
    public string AuditQueue { get; set; } = "events.audit";

    [Required]
    public string NotificationsQueue { get; set; } = "events.notifications";

    /// <summary>Where an event queue's unreadable messages go.</summary>
    [Required]
    public string EventsDeadLetterQueue { get; set; } = "events.dead";

    /// <summary>
    /// The most events of one type and routing key that one message carries when a transaction records them together
    /// (a job batch's outcomes); its body is then an array of envelopes (docs/messaging.md, "Events"). 1: one event per
    /// message, for consumers that read only single envelopes.
    /// </summary>
    [Range(1, Events.DomainEvent.MaxPerMessage)]
    public int MaxEventsPerMessage { get; set; } = 100;

    /// <summary>
    /// The most jobs one message on the jobs queue carries: the jobs one group commit admitted are queued together
    /// (docs/messaging.md, "Jobs"). 1: one message per job, the form every build reads (set it while replicas of a
    /// build before multi-job messages still consume the queue).
    /// </summary>
    [Range(1, JobMessage.MaxJobs)]
    public int MaxJobsPerMessage { get; set; } = JobMessage.MaxJobs;

    [Range(1, 1000)]
    public ushort PrefetchCount { get; set; } = 16;

    /// <summary>How many deliveries one event consumer processes at once.</summary>
    [Range(1, 256)]
    public ushort Concurrency { get; set; } = 4;

    /// <summary>
    /// The most job batches one Worker replica processes at once. A batch starts beside another only once that one has
    /// been at work for <see cref="JobBatchOverlapAfter"/>.
    /// </summary>
    [Range(1, 64)]
    public ushort JobBatchConcurrency { get; set; } = 4;

    /// <summary>
    /// How long the latest job batch at work holds the next one back: jobs that arrive meanwhile go together in one
    /// batch (fewer model calls and transactions per job), and a slow or stuck model call still does not stop the rest.
    /// Zero: a free handler starts a batch at once (smaller batches).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan JobBatchOverlapAfter { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Unacknowledged deliveries of the jobs queue one consumer holds: the pool its batches are taken from.</summary>
    [Range(1, 5000)]
    public ushort JobPrefetchCount { get; set; } = 200;

    /// <summary>The most jobs processed as one batch: one transaction to start them, one model call, one to record them.</summary>
    [Range(1, 1000)]
    public int JobBatchSize { get; set; } = 100;

    /// <summary>How long a submission waits for the broker's confirm before it is refused with 503.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The most ready messages the jobs queue holds (<c>x-max-length</c>, with <c>x-overflow: reject-publish</c>); past it
    /// the broker nacks a submission's message and the submission is refused with 503 <c>queue_full</c>. 0: no limit.
    /// A message carries up to <see cref="MaxJobsPerMessage"/> jobs, so the jobs it bounds are up to that many times more.
    /// Queue arguments are fixed when a queue is created: see docs/messaging.md for changing it on an existing queue.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int JobsQueueMaxLength { get; set; } = 100_000;

    /// <summary>The <c>Retry-After</c> of a submission refused because the broker is down or the queue is full.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the outbox relay looks for messages nobody published (after a crash).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan OutboxPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A job message younger than this is left to the request that is publishing it; older and unsent, its request
    /// died and the relay publishes it. Longer than <see cref="PublishTimeout"/>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan OutboxGracePeriod { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long shutting down waits for in-flight deliveries before leaving them to the broker.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public TimeSpan RetryDelayBefore(int nextAttempt) =>
        EffectiveRetryDelays[Math.Clamp(nextAttempt - 2, 0, EffectiveRetryDelays.Count - 1)];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryDelays.Any(delay => delay <= TimeSpan.Zero))
        {
            yield return new ValidationResult("Messaging:RetryDelays must all be positive.", [nameof(RetryDelays)]);
        }

        if (OutboxGracePeriod <= PublishTimeout)
        {
            yield return new ValidationResult("Messaging:OutboxGracePeriod must be longer than PublishTimeout.", [nameof(OutboxGracePeriod)]);
        }
    }
}
