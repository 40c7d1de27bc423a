namespace Worker.Messaging;

/// <summary>
/// Acknowledges one channel's deliveries together: the deliveries whose effects committed at the same moment (a job
/// batch, a group-committed run of audit appends) go out as one <c>multiple</c> ack instead of an ack frame each, which
/// costs the broker and this process a frame, a write and a wake-up per delivery. Nothing waits for it: a delivery is
/// acknowledged in the same pass as the others that finished with it, never held back behind one still in hand.
/// </summary>
/// <remarks>
/// A <c>multiple</c> ack settles every outstanding delivery up to the tag it names, so one is sent only over a run of
/// tags this consumer has all settled: acked here, or rejected or requeued on their own before (<see cref="Settled"/>,
/// called once that frame is sent). A tag still in hand, or not yet handed to a handler, ends the run; the deliveries
/// done above it are acked one by one in the same pass. Delivery tags count up from 1 on a channel, every delivery on
/// it is this consumer's, and RabbitMQ.Client keeps them counting up across a recovered channel.
/// </remarks>
internal sealed class DeliveryAcks(Func<ulong, bool, ValueTask> ack, Func<Task>? gather = null)
{
    // By default a pass starts once the continuations queued before it ran: those of the same batch.
    private readonly Func<Task> _gather = gather ?? (static async () => await Task.Yield());

    private readonly Lock _lock = new();
    private readonly SortedSet<ulong> _done = [];
    private readonly HashSet<ulong> _settledAlone = [];
    private ulong _settledUpTo;
    private bool _flushing;

    /// <summary>
    /// The effect of <paramref name="deliveryTag"/> is committed. Returns once its ack is sent; when another caller is
    /// already sending, at once: that caller sends this one too before it returns.
    /// </summary>
    public async ValueTask AckAsync(ulong deliveryTag)
    {
        lock (_lock)
        {
            _done.Add(deliveryTag);
            if (_flushing)
            {
                return;
            }

            _flushing = true;
        }

        // The deliveries of the same batch finish now, each on its own continuation: let them join this pass.
        await _gather();
        try
        {
            while (Next() is { } plan)
            {
                if (plan.Multiple is { } upTo)
                {
                    await ack(upTo, true);
                }

                foreach (var tag in plan.Alone)
                {
                    await ack(tag, false);
                }
            }
        }
        catch
        {
            // The channel is gone: the broker hands back whatever it was not sent an ack for (RabbitMQ.Client drops acks
            // of a channel it recovered). Those tags count as settled, so that later runs can pass over them.
            lock (_lock)
            {
                _settledAlone.UnionWith(_done);
                _done.Clear();
                Advance();
                _flushing = false;
            }

            throw;
        }
    }

    /// <summary><paramref name="deliveryTag"/> was rejected or requeued on its own, and that frame is sent.</summary>
    public void Settled(ulong deliveryTag)
    {
        lock (_lock)
        {
            _settledAlone.Add(deliveryTag);
            Advance();
        }
    }

    private Plan? Next()
    {
        lock (_lock)
        {
            if (_done.Count == 0)
            {
                _flushing = false;
                return null;
            }

            // The longest run of settled tags after the last one acknowledged; its highest done tag is the one to name.
            ulong? multiple = null;
            for (var next = _settledUpTo + 1; ; next++)
            {
                if (_done.Remove(next))
                {
                    multiple = next;
                }
                else if (!_settledAlone.Remove(next))
                {
                    break;
                }

                _settledUpTo = next;
            }

            // Done above a tag still in hand: acknowledged alone now rather than held back.
            var alone = _done.ToArray();
            _done.Clear();
            _settledAlone.UnionWith(alone);
            Advance();
            return new Plan(multiple, alone);
        }
    }

    // Tags settled alone right after the run need no ack of their own: move past them.
    private void Advance()
    {
        while (_settledAlone.Remove(_settledUpTo + 1))
        {
            _settledUpTo++;
        }
    }

    private sealed record Plan(ulong? Multiple, ulong[] Alone);
}
