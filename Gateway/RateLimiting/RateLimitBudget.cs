using System.Threading.RateLimiting;
using Gateway.Security;
using Microsoft.Extensions.Options;

namespace Gateway.RateLimiting;

/// <summary>
/// Every caller's token buckets, one per policy, shared by both doors: a REST request takes one token of its
/// endpoint's policy (<see cref="RateLimitMiddleware"/>) and each JSON-RPC call one of the policy its REST twin uses,
/// so a batch of 50 predictions costs what 50 REST predictions cost.
/// </summary>
public sealed class RateLimitBudget : IDisposable
{
    private readonly PartitionedRateLimiter<(string Policy, string Caller)> _buckets;

    private readonly RateLimitMetrics? _metrics;

    public RateLimitBudget(IOptions<RateLimitingOptions> options, RateLimitMetrics? metrics = null)
    {
        _metrics = metrics;
        ArgumentNullException.ThrowIfNull(options);
        var policies = options.Value.Policies;
        _buckets = PartitionedRateLimiter.Create<(string Policy, string Caller), (string, string)>(key =>
            RateLimitPartition.GetTokenBucketLimiter(key, _ => policies[key.Policy].ToLimiterOptions()));
    }

    /// <summary>
    /// Takes one token of <paramref name="policy"/> from the caller of <paramref name="httpContext"/>: null when
    /// granted, else how long until one is back.
    /// </summary>
    public TimeSpan? TryCharge(HttpContext httpContext, string policy)
    {
        using var lease = _buckets.AttemptAcquire((policy, CallerKey(httpContext)));
        if (lease.IsAcquired)
        {
            return null;
        }

        _metrics?.Rejected(policy);
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
    }

    /// <summary>
    /// The caller (token issuer and subject) when there is a token (authentication runs before the limits), else the
    /// client's address: one noisy client cannot spend another's allowance.
    /// </summary>
    public static string CallerKey(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        return Scopes.CallerOf(httpContext.User) is { } caller
            ? $"caller:{caller}"
            : $"ip:{httpContext.Connection.RemoteIpAddress?.ToString() ?? "unknown"}";
    }

    public void Dispose() => _buckets.Dispose();
}
