using Microsoft.Extensions.Options;

namespace Worker.Webhooks;

/// <summary>
/// At most <c>MaxConcurrencyPerHost</c> attempts in flight to one callback host (host and port), so a slow or
/// hanging receiver holds that many of the webhook consumer's slots, never all of them. Hosts are kept in a small
/// LRU (<c>HostLimiterCapacity</c>); only idle ones are forgotten, so a busy host's count is never lost.
/// </summary>
public sealed class CallbackHostLimiter(IOptions<WebhookOptions> options)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<Host>> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly LinkedList<Host> _recent = new();

    /// <summary>A slot for one attempt to <paramref name="host"/>, or null when the host has all it may have.</summary>
    public IDisposable? TryEnter(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        lock (_lock)
        {
            if (_hosts.TryGetValue(host, out var node))
            {
                _recent.Remove(node);
            }
            else
            {
                node = new LinkedListNode<Host>(new Host(host));
                _hosts.Add(host, node);
            }

            _recent.AddFirst(node);
            if (node.Value.InFlight >= options.Value.MaxConcurrencyPerHost)
            {
                return null;
            }

            node.Value.InFlight++;
            ForgetIdleHosts();
            return new Lease(this, node.Value);
        }
    }

    /// <summary>How many hosts are remembered (for tests).</summary>
    internal int Count
    {
        get
        {
            lock (_lock)
            {
                return _hosts.Count;
            }
        }
    }

    private void ForgetIdleHosts()
    {
        for (var node = _recent.Last; node is not null && _hosts.Count > options.Value.HostLimiterCapacity;)
        {
            var previous = node.Previous;
            if (node.Value.InFlight == 0)
            {
                _recent.Remove(node);
                _hosts.Remove(node.Value.Name);
            }

            node = previous;
        }
    }

    private void Leave(Host host)
    {
        lock (_lock)
        {
            host.InFlight--;
        }
    }

    private sealed class Host(string name)
    {
        public string Name => name;

        public int InFlight { get; set; }
    }

    private sealed class Lease(CallbackHostLimiter limiter, Host host) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                limiter.Leave(host);
            }
        }
    }
}
