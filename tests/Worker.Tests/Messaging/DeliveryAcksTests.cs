using Worker.Messaging;

namespace Worker.Tests.Messaging;

/// <summary>
/// <see cref="DeliveryAcks"/> against a model of the broker's side of a channel: every frame must name a delivery
/// still outstanding, and a <c>multiple</c> ack must settle only deliveries whose effects are done.
/// </summary>
public sealed class DeliveryAcksTests
{
    [Fact]
    public async Task Deliveries_that_finish_together_are_acknowledged_with_one_frame()
    {
        var channel = new ModelChannel(10);
        var acks = channel.Acks();

        await channel.FinishTogether(acks, Enumerable.Range(1, 10).Select(tag => (ulong)tag));

        Assert.Equal([(10UL, true)], channel.Frames);
        Assert.Empty(channel.Outstanding);
    }

    [Fact]
    public async Task A_delivery_still_in_hand_is_never_covered_and_holds_nothing_back()
    {
        var channel = new ModelChannel(5);
        var acks = channel.Acks();

        await channel.FinishTogether(acks, [1, 2, 4, 5]);

        Assert.Equal([(2UL, true), (4UL, false), (5UL, false)], channel.Frames);
        Assert.Equal([3UL], channel.Outstanding);

        await channel.FinishTogether(acks, [3]);
        Assert.Equal((3UL, true), channel.Frames[^1]);
        Assert.Empty(channel.Outstanding);
    }

    [Fact]
    public async Task A_delivery_rejected_on_its_own_is_passed_over_by_the_next_multiple_ack()
    {
        var channel = new ModelChannel(3);
        var acks = channel.Acks();

        channel.Reject(acks, 2);
        await channel.FinishTogether(acks, [1, 3]);

        Assert.Equal([(3UL, true)], channel.Frames);
        Assert.Empty(channel.Outstanding);
    }

    [Fact]
    public async Task After_a_failed_send_later_deliveries_are_still_acknowledged_together()
    {
        var channel = new ModelChannel(4) { FailNextSend = true };
        var acks = channel.Acks();

        await Assert.ThrowsAsync<InvalidOperationException>(() => channel.FinishTogether(acks, [1]));
        channel.Outstanding.Remove(1); // the broker took it back with the channel

        await channel.FinishTogether(acks, [2, 3, 4]);
        Assert.Equal([(4UL, true)], channel.Frames);
        Assert.Empty(channel.Outstanding);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Deliveries_finishing_in_any_order_are_each_settled_once_and_never_early(int seed)
    {
        const int deliveries = 300;
        var random = new Random(seed);
        var channel = new ModelChannel(deliveries);
        var acks = new DeliveryAcks(channel.AckAsync); // passes start as the thread pool runs them, as in the Worker
        var inHand = Enumerable.Range(1, deliveries).Select(tag => (ulong)tag).ToList();

        // Waves of deliveries finish at once, in any order; a few are rejected or requeued on their own.
        while (inHand.Count > 0)
        {
            var wave = inHand.OrderBy(_ => random.Next()).Take(random.Next(1, 25)).ToList();
            inHand.RemoveAll(wave.Contains);
            var finishing = new List<Task>();
            foreach (var tag in wave)
            {
                if (random.Next(20) == 0)
                {
                    channel.Reject(acks, tag);
                }
                else
                {
                    finishing.Add(channel.Finish(acks, tag).AsTask());
                }
            }

            await Task.WhenAll(finishing);
        }

        Assert.Empty(channel.Outstanding);
        Assert.True(channel.Frames.Count < deliveries, $"{channel.Frames.Count} frames for {deliveries} deliveries");
    }

    /// <summary>The broker's record of one channel: outstanding deliveries, and which of them are done.</summary>
    private sealed class ModelChannel(int deliveries)
    {
        private readonly Lock _lock = new();
        private readonly HashSet<ulong> _done = [];

        public SortedSet<ulong> Outstanding { get; } = [.. Enumerable.Range(1, deliveries).Select(tag => (ulong)tag)];

        public List<(ulong Tag, bool Multiple)> Frames { get; } = [];

        public bool FailNextSend { get; set; }

        private TaskCompletionSource _gathered = new();

        /// <summary>Acks whose passes start only when <see cref="FinishTogether"/> lets them.</summary>
        public DeliveryAcks Acks() => new(AckAsync, () => _gathered.Task);

        /// <summary>These deliveries finish at the same moment: every one of them is done before a pass starts.</summary>
        public async Task FinishTogether(DeliveryAcks acks, IEnumerable<ulong> tags)
        {
            _gathered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var finishing = tags.Select(tag => Finish(acks, tag).AsTask()).ToList();
            _gathered.SetResult();
            await Task.WhenAll(finishing);
        }

        public ValueTask Finish(DeliveryAcks acks, ulong tag)
        {
            lock (_lock)
            {
                _done.Add(tag);
            }

            return acks.AckAsync(tag);
        }

        public void Reject(DeliveryAcks acks, ulong tag)
        {
            lock (_lock)
            {
                Assert.True(Outstanding.Remove(tag), $"rejected {tag}, which is not outstanding");
            }

            acks.Settled(tag);
        }

        public ValueTask AckAsync(ulong tag, bool multiple)
        {
            lock (_lock)
            {
                if (FailNextSend)
                {
                    FailNextSend = false;
                    throw new InvalidOperationException("the channel closed");
                }

                Assert.True(Outstanding.Contains(tag), $"ack of {tag}, which is not outstanding (unknown delivery tag)");
                var settled = multiple ? Outstanding.Where(outstanding => outstanding <= tag).ToList() : [tag];
                foreach (var covered in settled)
                {
                    Assert.True(_done.Contains(covered), $"ack of {tag} (multiple: {multiple}) settled {covered} before it was done");
                    Outstanding.Remove(covered);
                }

                Frames.Add((tag, multiple));
            }

            return ValueTask.CompletedTask;
        }
    }
}
