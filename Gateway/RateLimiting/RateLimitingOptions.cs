using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Gateway.RateLimiting;

/// <summary>
/// Token-bucket limits per policy (section <c>RateLimiting</c>). Each caller has its own bucket per policy:
/// its token subject, or its IP address where no token is needed. Limits are per gateway replica.
/// </summary>
public sealed class RateLimitingOptions : IValidatableObject
{
    public const string SectionName = "RateLimiting";

    /// <summary>Single predictions and the model list.</summary>
    public const string Predict = "predict";

    /// <summary>Synchronous batches of up to the batch limit.</summary>
    public const string Batch = "batch";

    /// <summary>Submitting and reading jobs.</summary>
    public const string Jobs = "jobs";

    /// <summary>JSON-RPC requests (a batch of calls is one request).</summary>
    public const string Rpc = "rpc";

    /// <summary>Administrative changes, such as choosing the model version served.</summary>
    public const string Admin = "admin";

    /// <summary>Anonymous pages: the OpenAPI document and its UI.</summary>
    public const string Anonymous = "anonymous";

    public static readonly IReadOnlyList<string> PolicyNames = [Predict, Batch, Jobs, Rpc, Admin, Anonymous];

    public Dictionary<string, TokenBucketPolicy> Policies { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var name in PolicyNames.Where(name => !Policies.ContainsKey(name)))
        {
            yield return new ValidationResult($"RateLimiting:Policies:{name} is not configured.", [nameof(Policies)]);
        }

        foreach (var (name, policy) in Policies)
        {
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateObject(policy, new ValidationContext(policy), results, validateAllProperties: true))
            {
                foreach (var result in results)
                {
                    yield return new ValidationResult($"RateLimiting:Policies:{name}: {result.ErrorMessage}", [nameof(Policies)]);
                }
            }
        }
    }
}

/// <summary>A bucket of <see cref="TokenLimit"/> requests, refilled by <see cref="TokensPerPeriod"/> every period.</summary>
public sealed class TokenBucketPolicy
{
    [Range(1, 1_000_000)]
    public int TokenLimit { get; set; }

    [Range(1, 1_000_000)]
    public int TokensPerPeriod { get; set; }

    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);

    public TokenBucketRateLimiterOptions ToLimiterOptions() => new()
    {
        TokenLimit = TokenLimit,
        TokensPerPeriod = TokensPerPeriod,
        ReplenishmentPeriod = ReplenishmentPeriod,
        QueueLimit = 0, // over the limit is an immediate 429, never a slow answer
        AutoReplenishment = true,
    };
}
