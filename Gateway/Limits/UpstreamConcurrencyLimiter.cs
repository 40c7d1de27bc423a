using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Gateway.Limits;

/// <summary>The services behind the gateway, each with its own pool of call slots.</summary>
public enum UpstreamService
{
    /// <summary>python-inference: predictions and the model list.</summary>
    Inference,

    /// <summary>The Worker: jobs, the model registry, webhook keys, the admin API.</summary>
    Worker,
}

/// <summary>
/// Slots for calls that wait on an upstream: per upstream, a pool for the replica and a smaller one per caller. A call
/// takes one of each or none, never waits for one (a full pool is an immediate 503), and gives both back when it ends.
/// The upstreams' pools are apart (bulkheads): when python-inference slows down and its predictions fill its pool,
/// calls to the Worker still find theirs. It sits in front of the use cases, above anything the upstream clients do
/// themselves (resilience, batching), so it counts callers' calls, not the requests that finally leave the gateway.
/// </summary>
public sealed class UpstreamConcurrencyLimiter : IDisposable
{
    private readonly Pool[] _pools;

    public UpstreamConcurrencyLimiter(IOptions<UpstreamLimitsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var limits = options.Value;
        _pools = [.. Enum.GetValues<UpstreamService>().Select(_ => new Pool(limits))];
    }

    /// <summary>
    /// A slot for <paramref name="caller"/>'s call to <paramref name="upstream"/>, to dispose when the call ends; null
    /// when either of that upstream's pools is full.
    /// </summary>
    public IDisposable? TryEnter(UpstreamService upstream, string caller, out bool callerIsFull) =>
        _pools[(int)upstream].TryEnter(caller, out callerIsFull);

    public void Dispose()
    {
        foreach (var pool in _pools)
        {
            pool.Dispose();
        }
    }

    private sealed class Pool(UpstreamLimitsOptions limits) : IDisposable
    {
        private readonly ConcurrencyLimiter _replica = new(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.MaxConcurrentCalls,
            QueueLimit = 0,
        });

        private readonly PartitionedRateLimiter<string> _perCaller = PartitionedRateLimiter.Create<string, string>(caller =>
            RateLimitPartition.GetConcurrencyLimiter(caller,
                _ => new ConcurrencyLimiterOptions { PermitLimit = limits.MaxConcurrentCallsPerCaller, QueueLimit = 0 }));

        public Slot? TryEnter(string caller, out bool callerIsFull)
        {
            var own = _perCaller.AttemptAcquire(caller);
            if (!own.IsAcquired)
            {
                own.Dispose();
                callerIsFull = true;
                return null;
            }

            callerIsFull = false;
            var shared = _replica.AttemptAcquire();
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
            _replica.Dispose();
            _perCaller.Dispose();
        }
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
