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

        if (MaxDelay < BaseDelay)
        {
            yield return new ValidationResult("MaxDelay must not be shorter than BaseDelay.", [nameof(MaxDelay)]);
        }
    }
}
