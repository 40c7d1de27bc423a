using System.Text.Json;

namespace Chaos.Tests;

public sealed class BrokerStateTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void The_memory_breakdown_keeps_every_use_and_names_the_totals()
    {
        // The shape of RabbitMQ 3.10's GET /api/nodes/{node}/memory.
        using var body = JsonDocument.Parse("""
            {"memory": {"connection_readers": 1048576, "binary": 20971520, "queue_procs": 3145728,
                        "allocated_unused": 41943040, "strategy": "rss",
                        "total": {"erlang": 104857600, "rss": 157286400, "allocated": 146800640}}}
            """);

        var memory = BrokerState.ParseMemory(body.RootElement);

        Assert.Equal(20 * MiB, memory["binary"]);
        Assert.Equal(40 * MiB, memory["allocated_unused"]);
        Assert.Equal(150 * MiB, memory["total.rss"]);
        Assert.Equal(100 * MiB, memory["total.erlang"]);
        Assert.False(memory.ContainsKey("strategy"));
        Assert.Equal(7, memory.Count);
    }

    [Fact]
    public void Queues_read_their_messages_consumers_and_memory_and_a_missing_figure_is_zero()
    {
        using var body = JsonDocument.Parse("""
            [{"name": "jobs", "messages_ready": 12, "messages_unacknowledged": 3, "consumers": 2, "memory": 55000},
             {"name": "events.analytics", "consumers": 0}]
            """);

        var queues = BrokerState.ParseQueues(body.RootElement);

        Assert.Equal([new QueueState("jobs", 12, 3, 2, 55000), new QueueState("events.analytics", 0, 0, 0, 0)], queues);
    }

    [Fact]
    public void The_largest_changes_come_first_without_the_totals()
    {
        var start = State(("binary", 10 * MiB), ("queue_procs", 5 * MiB), ("mgmt_db", 2 * MiB), ("total.rss", 150 * MiB));
        var end = State(("binary", 11 * MiB), ("queue_procs", 60 * MiB), ("allocated_unused", 30 * MiB), ("total.rss", 250 * MiB));

        Assert.Equal(["queue_procs 5 → 60", "allocated_unused 0 → 30"], BrokerState.LargestChanges(start, end, 2));
        Assert.Equal(4, BrokerState.LargestChanges(start, end, 10).Count);
    }

    [Fact]
    public void A_queue_is_described_at_both_moments_one_missing_at_either_is_a_dash_and_idle_ones_are_counted()
    {
        var start = State() with { Queues = [new("jobs", 0, 0, 2, 0), new("events.analytics", 0, 0, 1, 0), new("jobs.dead", 0, 0, 0, 0)] };
        var end = State() with
        {
            Queues = [new("jobs", 0, 0, 2, 0), new("events.analytics", 48000, 0, 0, 0), new("webhooks", 1, 1, 1, 0), new("jobs.dead", 0, 0, 0, 0),
                new("jobs.retry.1s", 0, 0, 0, 0)],
        };

        Assert.Equal(
            ["events.analytics 0+0, 1 consumer → 48000+0, 0 consumers", "jobs 0+0, 2 consumers → 0+0, 2 consumers", "webhooks — → 1+1, 1 consumer",
                "2 more empty and without consumers at both"],
            BrokerState.QueueChanges(start, end));
    }

    private static BrokerState State(params (string Use, long Bytes)[] memory) =>
        new(DateTimeOffset.UnixEpoch, [], memory.ToDictionary(m => m.Use, m => m.Bytes));
}
