using System.Diagnostics.Metrics;

namespace Gateway.RateLimiting;

/// <summary>
/// <c>gateway.rate_limit.rejections</c>: requests (and JSON-RPC calls) refused with 429, per rate-limit policy, counted
/// where <see cref="RateLimitBudget"/> refuses them.
/// </summary>
public sealed class RateLimitMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _rejections = meters.Create(Telemetry.MeterName).CreateCounter<long>(
        "gateway.rate_limit.rejections", "{request}", "Requests refused with 429 because their rate-limit policy was used up.");

    public void Rejected(string policy) =>
        _rejections.Add(1, new KeyValuePair<string, object?>("aspnetcore.rate_limiting.policy", policy));
}
