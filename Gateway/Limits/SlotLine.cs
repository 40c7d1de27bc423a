namespace Gateway.Limits;

/// <summary>
/// Who may wait in an upstream pool's line for a slot. While the line keeps up, any call may, up to its limit: a burst
/// is served as the calls ahead of it end. Once a call has waited out the whole wait in it, the upstream is not freeing
/// slots as fast as calls come (it is slow, or stalled), and the line is behind: it then takes only as many calls as
/// it gave a slot to over the last wait, who can expect one in time; the others are refused at once rather than held
/// for the wait and refused then. Held, they would only have cost the gateway, each a request's state kept alive
/// through its garbage collections, its timers and its cancellation, and made the other upstreams' calls wait on that
/// (docs/reliability-history.md, "The line for a slot while python-inference is slow"). The line keeps up again once a whole
/// wait has passed with no call waiting it out or turned away.
/// </summary>
internal sealed class SlotLine(int limit, TimeSpan wait, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Queue<long> _served = new(); // when the line gave a slot, over the last wait (at most limit of them)
    private long? _behindAt; // the last time a call waited out the wait, or was turned away while the line was behind
    private int _waiting;

    /// <summary>How a call left the line.</summary>
    public enum Exit
    {
        /// <summary>It got a slot.</summary>
        Served,

        /// <summary>It waited the whole wait without one.</summary>
        WaitedOut,

        /// <summary>Its caller went away (or it could not wait after all).</summary>
        Gone,
    }

    /// <summary>Calls in the line now.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiting;
            }
        }
    }

    /// <summary>Whether the line is behind now (see the class).</summary>
    public bool IsBehind
    {
        get
        {
            lock (_gate)
            {
                return Behind(time.GetTimestamp());
            }
        }
    }

    /// <summary>Takes a place in the line if it has one for another call; each call that joins must <see cref="Leave"/> it.</summary>
    public bool TryJoin()
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_waiting >= limit)
            {
                return false;
            }

            if (Behind(now))
            {
                ForgetServedBefore(now);
                if (_waiting >= _served.Count)
                {
                    _behindAt = now;
                    return false;
                }
            }

            _waiting++;
            return true;
        }
    }

    public void Leave(Exit exit)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            _waiting--;
            switch (exit)
            {
                case Exit.Served:
                    if (_served.Count == limit)
                    {
                        _served.Dequeue();
                    }

                    _served.Enqueue(now);
                    break;
                case Exit.WaitedOut:
                    _behindAt = now;
                    break;
            }
        }
    }

    private bool Behind(long now) => _behindAt is { } at && time.GetElapsedTime(at, now) < wait;

    private void ForgetServedBefore(long now)
    {
        while (_served.TryPeek(out var at) && time.GetElapsedTime(at, now) >= wait)
        {
            _served.Dequeue();
        }
    }
}
