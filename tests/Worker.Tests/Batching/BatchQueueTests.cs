using Worker.Batching;

namespace Worker.Tests.Batching;

public sealed class BatchQueueTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>
    /// A handler that records each batch, holds batches until released (only those holding "stuck" when
    /// <paramref name="holdsOnlyStuck"/>), and fails batches holding "bad".
    /// </summary>
    private sealed class Handler(bool holdsOnlyStuck = false)
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string[]> Batches { get; } = [];

        public Task FirstStarted => _firstStarted.Task;

        public void Release() => _release.TrySetResult();

        public async Task<IReadOnlyList<string>> HandleAsync(IReadOnlyList<string> items, CancellationToken cancellationToken)
        {
            lock (Batches)
            {
                Batches.Add([.. items]);
            }

            _firstStarted.TrySetResult();
            if (!holdsOnlyStuck || items.Contains("stuck"))
            {
                await _release.Task.WaitAsync(cancellationToken);
            }

            if (items.Contains("bad"))
            {
                throw new InvalidOperationException("bad item");
            }

            return [.. items.Select(item => item.ToUpperInvariant())];
        }
    }

    [Fact]
    public async Task Items_queued_together_are_one_batch_even_with_a_free_handler_waiting()
    {
        // A message's jobs: one after another through EnqueueAsync, a free handler could start between two of them
        // and split them (1 time in 6 in QueueLimitTests); queued together, no handler sees some without the others.
        for (var round = 0; round < 200; round++)
        {
            var batches = new List<int>();
            await using var queue = new BatchQueue<string, string>((items, _) =>
            {
                lock (batches)
                {
                    batches.Add(items.Count);
                }

                return Task.FromResult<IReadOnlyList<string>>([.. items]);
            }, maxBatchSize: 100, handlers: 2);
            Assert.Equal("warm", await queue.EnqueueAsync("warm", Token)); // both handlers started and waiting

            var results = queue.EnqueueTogether(["a", "b", "c", "d", "e", "f"], Token);

            Assert.Equal(["a", "b", "c", "d", "e", "f"], await Task.WhenAll(results));
            Assert.Equal([1, 6], batches);
        }
    }

    [Fact]
    public async Task Items_queued_together_past_a_batch_s_size_are_split_by_it()
    {
        var handler = new Handler(holdsOnlyStuck: true);
        await using var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 4);

        var results = queue.EnqueueTogether([.. Enumerable.Range(0, 10).Select(i => $"item {i}")], Token);

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"ITEM {i}"), await Task.WhenAll(results));
        Assert.Equal([4, 4, 2], handler.Batches.Select(batch => batch.Length));
    }

    [Fact]
    public async Task Items_that_arrive_while_a_batch_runs_are_handled_together_and_each_gets_its_own_result()
    {
        var handler = new Handler();
        await using var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 100);

        var first = queue.EnqueueAsync("first", Token);
        await handler.FirstStarted;
        var waiting = Enumerable.Range(0, 10).Select(i => queue.EnqueueAsync($"item {i}", Token)).ToList();
        handler.Release();

        Assert.Equal("FIRST", await first);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"ITEM {i}"), await Task.WhenAll(waiting));
        Assert.Equal([1, 10], handler.Batches.Select(batch => batch.Length));
        Assert.Equal(2, queue.Batches);
    }

    [Fact]
    public async Task A_failing_item_fails_alone_and_its_batch_neighbours_get_their_results()
    {
        var handler = new Handler();
        await using var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 100);

        var first = queue.EnqueueAsync("first", Token);
        await handler.FirstStarted;
        var good = queue.EnqueueAsync("good", Token);
        var bad = queue.EnqueueAsync("bad", Token);
        var alsoGood = queue.EnqueueAsync("also good", Token);
        handler.Release();

        Assert.Equal("FIRST", await first);
        Assert.Equal("GOOD", await good);
        Assert.Equal("ALSO GOOD", await alsoGood);
        Assert.Equal("bad item", (await Assert.ThrowsAsync<InvalidOperationException>(() => bad)).Message);
        // The batch of three failed as a whole, then each of its items ran alone.
        Assert.Equal([["first"], ["good", "bad", "also good"], ["good"], ["bad"], ["also good"]], handler.Batches);
    }

    [Fact]
    public async Task A_batch_holds_at_most_the_maximum_and_the_rest_follows_in_the_next()
    {
        var handler = new Handler();
        await using var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 4);

        var first = queue.EnqueueAsync("first", Token);
        await handler.FirstStarted;
        var waiting = Enumerable.Range(0, 6).Select(i => queue.EnqueueAsync($"{i}", Token)).ToList();
        handler.Release();
        await first;
        await Task.WhenAll(waiting);

        Assert.Equal([1, 4, 2], handler.Batches.Select(batch => batch.Length));
    }

    [Fact]
    public async Task A_caller_that_gives_up_before_its_batch_starts_is_left_out()
    {
        var handler = new Handler();
        await using var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 100);
        using var givenUp = new CancellationTokenSource();

        var first = queue.EnqueueAsync("first", Token);
        await handler.FirstStarted;
        var abandoned = queue.EnqueueAsync("abandoned", givenUp.Token);
        var kept = queue.EnqueueAsync("kept", Token);
        await givenUp.CancelAsync();
        handler.Release();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.Equal("KEPT", await kept);
        await first;
        Assert.Equal([["first"], ["kept"]], handler.Batches);
    }

    [Fact]
    public async Task With_several_handlers_items_that_arrive_while_a_recent_batch_runs_still_wait_to_go_together()
    {
        var handler = new Handler();
        await using var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 100, handlers: 4,
            overlapAfter: TimeSpan.FromMinutes(1));

        var first = queue.EnqueueAsync("first", Token);
        await handler.FirstStarted;
        var waiting = Enumerable.Range(0, 10).Select(i => queue.EnqueueAsync($"item {i}", Token)).ToList();
        await Task.Delay(TimeSpan.FromMilliseconds(300), Token);
        Assert.Single(handler.Batches); // three handlers free, and none started a batch of one or two
        handler.Release();

        await first;
        await Task.WhenAll(waiting);
        Assert.Equal([1, 10], handler.Batches.Select(batch => batch.Length));
    }

    [Fact]
    public async Task A_batch_at_work_for_longer_than_overlap_after_lets_the_next_start_beside_it()
    {
        var handler = new Handler(holdsOnlyStuck: true);
        var overlapAfter = TimeSpan.FromMilliseconds(200);
        await using var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 100, handlers: 2,
            overlapAfter: overlapAfter);

        var stuck = queue.EnqueueAsync("stuck", Token);
        await handler.FirstStarted;
        var stuckSince = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("NEXT", await queue.EnqueueAsync("next", Token).WaitAsync(TimeSpan.FromSeconds(10), Token));

        // Less than overlapAfter by the stopwatch, by at most a few of the timer's coarse ticks (Environment.TickCount64
        // reads the kernel's coarse clock on Linux), and the time between the handler starting and this test seeing it.
        Assert.InRange(stuckSince.Elapsed, overlapAfter - TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(10));
        Assert.False(stuck.IsCompleted);
        handler.Release();
        Assert.Equal("STUCK", await stuck);
    }

    [Fact]
    public async Task Disposing_twice_is_harmless_as_a_web_application_factory_stops_its_host_twice()
    {
        var handler = new Handler();
        handler.Release();
        var queue = new BatchQueue<string, string>(handler.HandleAsync, maxBatchSize: 100);
        Assert.Equal("ONE", await queue.EnqueueAsync("one", Token));

        await queue.DisposeAsync();
        await queue.DisposeAsync();
    }
}
