using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Gateway.Limits;

/// <summary>The services behind the gateway, each with its own pool of call slots.</summary>
public enum UpstreamService
{
    /// <summary>python-inference: predictions and the model list.</summary>
    Inference,

    /// <summary>
    /// The Worker, for what changes its state or may: job submissions, model activations, webhook keys, the admin API.
    /// </summary>
    Worker,

    /// <summary>
    /// The Worker, for reads: a job, a page of jobs, a model's versions. Apart from its writes, which wait on the
    /// disk (a commit, the broker's confirm): when the disk stalls and submissions hold every write slot, the callers
    /// polling their jobs are still answered.
    /// </summary>
    WorkerReads,
}

/// <summary>
/// Slots for calls that wait on an upstream: per upstream, a pool for the replica and a smaller one per caller. A call
/// takes one of each or none, and gives both back when it ends. A caller whose own pool is full is refused at once (it
/// has as much in flight as it may); when the replica's pool is full a call waits for a slot, oldest first, up to
/// <see cref="UpstreamLimitsOptions.QueueWait"/> and among at most <see cref="UpstreamLimitsOptions.QueueLimit"/>
/// others, then is refused: a burst is served as the calls ahead of it end, and while an upstream is slow the waiting
/// stays in front of it, bounded in number and in time, and once calls wait out the wait, in number to those the line
/// can serve in time (<see cref="SlotLine"/>).
/// The upstreams' pools are apart (bulkheads): when python-inference slows down and its predictions fill its pool,
/// calls to the Worker still find theirs; and the Worker's reads have pools apart from its writes. It sits in front of
/// the use cases, above anything the upstream clients do themselves (resilience, batching), so it counts callers'
/// calls, not the requests that finally leave the gateway.
/// </summary>
public sealed class UpstreamConcurrencyLimiter : IDisposable
{
    private readonly Pool[] _pools;

    public UpstreamConcurrencyLimiter(IOptions<UpstreamLimitsOptions> options)
        : this(options, TimeProvider.System)
    {
    }

    internal UpstreamConcurrencyLimiter(IOptions<UpstreamLimitsOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var limits = options.Value;
        _pools = [.. Enum.GetValues<UpstreamService>().Select(_ => new Pool(limits, time))];
    }

    /// <summary>
    /// A slot for <paramref name="caller"/>'s call to <paramref name="upstream"/>, to dispose when the call ends; no slot
    /// when the caller's pool is full, the replica's waiting line is, or no slot freed within the wait (and
    /// <see cref="Entry.CallerIsFull"/> says which of the pools refused).
    /// </summary>
    public ValueTask<Entry> EnterAsync(UpstreamService upstream, string caller, CancellationToken cancellationToken) =>
        _pools[(int)upstream].EnterAsync(caller, cancellationToken);

    public void Dispose()
    {
        foreach (var pool in _pools)
        {
            pool.Dispose();
        }
    }

    /// <summary>A slot (dispose it when the call ends), or none and which pool refused.</summary>
    public readonly record struct Entry(IDisposable? Slot, bool CallerIsFull);

    private sealed class Pool(UpstreamLimitsOptions limits, TimeProvider time) : IDisposable
    {
        private readonly SlotLine _line = new(limits.QueueLimit, limits.QueueWait, time);

        private readonly ConcurrencyLimiter _replica = new(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.MaxConcurrentCalls,
            QueueLimit = limits.QueueLimit, // used only when QueueWait is above zero (EnterAsync)
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst, // the newest is refused when the line is full
        });

        private readonly PartitionedRateLimiter<string> _perCaller = PartitionedRateLimiter.Create<string, string>(caller =>
            RateLimitPartition.GetConcurrencyLimiter(caller,
                _ => new ConcurrencyLimiterOptions { PermitLimit = limits.MaxConcurrentCallsPerCaller, QueueLimit = 0 }));

        public async ValueTask<Entry> EnterAsync(string caller, CancellationToken cancellationToken)
        {
            var own = _perCaller.AttemptAcquire(caller);
            if (!own.IsAcquired)
            {
                own.Dispose();
                return new Entry(null, CallerIsFull: true);
            }

            RateLimitLease? shared = _replica.AttemptAcquire();
            if (!shared.IsAcquired)
            {
                shared.Dispose();
                try
                {
                    shared = limits.QueueWait > TimeSpan.Zero && _line.TryJoin() ? await WaitForSlotAsync(cancellationToken) : null;
                }
                catch (OperationCanceledException)
                {
                    own.Dispose(); // the caller went away (or its deadline passed) while waiting: its own slot goes back
                    throw;
                }
            }

            if (shared is not { IsAcquired: true })
            {
                shared?.Dispose();
                own.Dispose();
                return new Entry(null, CallerIsFull: false);
            }

            return new Entry(new Slot(own, shared), CallerIsFull: false);
        }

        /// <summary>
        /// For a call that has joined the line: a slot that frees within the wait; a lease not acquired when the
        /// limiter's own line is full, null when the wait is over. Tells the line how the call left it.
        /// </summary>
        private async ValueTask<RateLimitLease?> WaitForSlotAsync(CancellationToken cancellationToken)
        {
            var exit = SlotLine.Exit.Gone;
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(limits.QueueWait);
            try
            {
                var lease = await _replica.AcquireAsync(1, wait.Token);
                exit = lease.IsAcquired ? SlotLine.Exit.Served : SlotLine.Exit.Gone;
                return lease;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                exit = SlotLine.Exit.WaitedOut;
                return null;
            }
            finally
            {
                _line.Leave(exit);
            }
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
