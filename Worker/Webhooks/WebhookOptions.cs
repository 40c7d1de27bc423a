using System.ComponentModel.DataAnnotations;
using System.Net;

namespace Worker.Webhooks;

/// <summary>Signed callback delivery (section <c>Webhooks</c>).</summary>
public sealed class WebhookOptions : IValidatableObject
{
    public const string SectionName = "Webhooks";

    /// <summary>
    /// The per-deployment HMAC key. It comes from user secrets or an Aspire secret parameter, never from a file in
    /// the repository.
    /// </summary>
    [Required]
    [MinLength(32)]
    public string SigningSecret { get; set; } = "";

    /// <summary>
    /// CIDR blocks (<c>127.0.0.0/8</c>, <c>::1/128</c>) whose addresses callbacks may reach even though they are
    /// private, loopback or link-local. Empty in production.
    /// </summary>
    public IList<string> AllowedNetworks { get; } = [];

    /// <summary>
    /// The ports callback URLs may use; empty means <see cref="DefaultAllowedPorts"/>. Addresses inside
    /// <see cref="AllowedNetworks"/> may use any port. (No initial items: the configuration binder appends to a list.)
    /// </summary>
    public List<int> AllowedPorts { get; set; } = [];

    public static readonly IReadOnlyList<int> DefaultAllowedPorts = [80, 443];

    public IReadOnlyList<int> EffectiveAllowedPorts => AllowedPorts.Count > 0 ? AllowedPorts : DefaultAllowedPorts;

    /// <summary>How long one attempt may take, connection included.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>The first back-off; each further one doubles, with jitter, up to <see cref="MaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between attempts, a receiver's <c>Retry-After</c> included.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The work queue of deliveries; each retry delay is a <c>{Queue}.retry.&lt;delay&gt;</c> TTL queue leading back to it.</summary>
    [Required]
    public string Queue { get; set; } = "webhooks";

    /// <summary>Where a delivery message nobody can read ends.</summary>
    [Required]
    public string DeadLetterQueue { get; set; } = "webhooks.dead";

    /// <summary>Attempts in flight to one callback host (host and port) at once, across this Worker's webhook slots.</summary>
    [Range(1, 256)]
    public int MaxConcurrencyPerHost { get; set; } = 2;

    /// <summary>How many callback hosts the per-host limiter remembers.</summary>
    [Range(16, 1_000_000)]
    public int HostLimiterCapacity { get; set; } = 1024;

    /// <summary>
    /// The delay before each retry (attempt 2, 3, …): <see cref="BaseDelay"/> doubled per attempt up to
    /// <see cref="MaxDelay"/>. Each distinct one is a TTL queue; at least one exists (a delivery whose host is busy
    /// waits in the first).
    /// </summary>
    public IReadOnlyList<TimeSpan> RetryDelays =>
        [.. Enumerable.Range(1, Math.Max(1, MaxAttempts - 1))
            .Select(attempt => TimeSpan.FromMilliseconds(Math.Min(BaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1), MaxDelay.TotalMilliseconds)))
            .Select(delay => delay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : TimeSpan.FromMilliseconds(Math.Round(delay.TotalMilliseconds)))];

    /// <summary>The delay before attempt <paramref name="nextAttempt"/>; a receiver's Retry-After picks the first delay at least as long.</summary>
    public TimeSpan RetryDelayBefore(int nextAttempt, TimeSpan? retryAfter = null)
    {
        var delays = RetryDelays;
        if (retryAfter is { } asked)
        {
            return delays.Where(delay => delay >= asked).DefaultIfEmpty(delays.Max()).Min();
        }

        return delays[Math.Clamp(nextAttempt - 2, 0, delays.Count - 1)];
    }

    /// <summary>How far a signature's timestamp may be from the receiver's clock before it counts as a replay.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ReplayTolerance { get; set; } = TimeSpan.FromMinutes(5);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var network in AllowedNetworks)
        {
            if (!IPNetwork.TryParse(network, out _))
            {
                yield return new ValidationResult(
                    $"'{network}' is not a CIDR block such as 127.0.0.0/8.",
                    [nameof(AllowedNetworks)]);
            }
        }

        if (AllowedPorts.Any(port => port is < 1 or > 65535))
        {
            yield return new ValidationResult("Webhooks:AllowedPorts are 1 to 65535.", [nameof(AllowedPorts)]);
        }

        if (MaxDelay < BaseDelay)
        {
            yield return new ValidationResult("MaxDelay must not be shorter than BaseDelay.", [nameof(MaxDelay)]);
        }
    }
}
