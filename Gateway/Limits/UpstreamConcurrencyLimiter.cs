using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Gateway.Limits;

/// <summary>
/// Slots for calls that wait on an upstream: a global pool and a smaller one per caller. A call takes one of each or
/// none, never waits for one (a full pool is an immediate 503), and gives both back when it ends. It sits in front of
/// the use cases, above anything the upstream clients do themselves (resilience, batching), so it counts callers'
/// calls, not the requests that finally leave the gateway.
/// </summary>
public sealed class UpstreamConcurrencyLimiter : IDisposable
{
    private readonly ConcurrencyLimiter _global;
    private readonly PartitionedRateLimiter<string> _perCaller;

    public UpstreamConcurrencyLimiter(IOptions<UpstreamLimitsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var limits = options.Value;
        _global = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = limits.MaxConcurrentCalls, QueueLimit = 0 });
        _perCaller = PartitionedRateLimiter.Create<string, string>(caller => RateLimitPartition.GetConcurrencyLimiter(caller,
            _ => new ConcurrencyLimiterOptions { PermitLimit = limits.MaxConcurrentCallsPerCaller, QueueLimit = 0 }));
    }

    /// <summary>A slot for <paramref name="caller"/>'s call, to dispose when the call ends; null when either pool is full.</summary>
    public IDisposable? TryEnter(string caller, out bool callerIsFull)
    {
        var own = _perCaller.AttemptAcquire(caller);
        if (!own.IsAcquired)
        {
            own.Dispose();
            callerIsFull = true;
            return null;
        }

        callerIsFull = false;
        var shared = _global.AttemptAcquire();
        if (!shared.IsAcquired)
        {
            shared.Dispose();
            own.Dispose();
            return null;
        }

        return new Slot(own, shared);
    }

    public void Dispose()
    {
        _global.Dispose();
        _perCaller.Dispose();
    }

    private sealed class Slot(RateLimitLease own, RateLimitLease shared) : IDisposable
    {
        public void Dispose()
        {
            shared.Dispose();
            own.Dispose();
        }
    }
}
