using System.Globalization;
using System.Text.Json;

namespace Chaos.Verdict;

/// <summary>One queue as the broker's management API shows it: ready and unacknowledged messages, consumers, its memory.</summary>
public sealed record QueueState(string Name, long Ready, long Unacknowledged, int Consumers, long MemoryBytes);

/// <summary>
/// What the broker holds at one moment, from its management API: its queues, and its memory by use (RabbitMQ's own
/// breakdown: <c>binary</c>, <c>queue_procs</c>, <c>mgmt_db</c>, <c>allocated_unused</c>, … and the totals
/// <c>total.erlang</c>, <c>total.rss</c>, <c>total.allocated</c>). When the broker's RSS grows in a soak, it tells a
/// queue filling up (a consumer gone or behind) from the runtime keeping memory it no longer uses.
/// </summary>
public sealed record BrokerState(DateTimeOffset At, IReadOnlyList<QueueState> Queues, IReadOnlyDictionary<string, long> Memory)
{
    /// <summary>One use's size in whole MiB (0 when the broker did not report it).</summary>
    public string Mib(string use) => ResourceGrowth.Mib(Memory.GetValueOrDefault(use));

    /// <summary>The queues of <c>GET /api/queues</c> (a JSON array of objects).</summary>
    public static IReadOnlyList<QueueState> ParseQueues(JsonElement queues) =>
    [
        .. from queue in queues.EnumerateArray()
           select new QueueState(
               queue.GetProperty("name").GetString()!,
               Number(queue, "messages_ready"),
               Number(queue, "messages_unacknowledged"),
               (int)Number(queue, "consumers"),
               Number(queue, "memory")),
    ];

    /// <summary>
    /// The breakdown of <c>GET /api/nodes/{node}/memory</c> (<c>{"memory": {...}}</c>): every number by its name, the
    /// nested totals as <c>total.&lt;name&gt;</c>.
    /// </summary>
    public static IReadOnlyDictionary<string, long> ParseMemory(JsonElement body)
    {
        var memory = body.TryGetProperty("memory", out var inner) ? inner : body;
        Dictionary<string, long> uses = [];
        foreach (var property in memory.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Number)
            {
                uses[property.Name] = property.Value.GetInt64();
            }
            else if (property.Value.ValueKind == JsonValueKind.Object)
            {
                foreach (var total in property.Value.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number))
                {
                    uses[$"{property.Name}.{total.Name}"] = total.Value.GetInt64();
                }
            }
        }

        return uses;
    }

    /// <summary>
    /// The uses whose size changed most between two moments (the totals left out), largest change first, as
    /// "binary 12 → 80": what the report prints when asked where the broker's memory went.
    /// </summary>
    public static IReadOnlyList<string> LargestChanges(BrokerState start, BrokerState end, int count) =>
    [
        .. (from use in start.Memory.Keys.Union(end.Memory.Keys)
           where !use.StartsWith("total", StringComparison.Ordinal)
           let before = start.Memory.GetValueOrDefault(use)
           let after = end.Memory.GetValueOrDefault(use)
           orderby Math.Abs(after - before) descending, use
           select $"{use} {start.Mib(use)} → {end.Mib(use)}").Take(count),
    ];

    /// <summary>
    /// Each queue at both moments, by name: "jobs 0+0, 2 consumers → 12+3, 1 consumer" (ready + unacknowledged); a queue
    /// empty and without consumers at both is left out (the retry and dead-letter queues, mostly), counted at the end.
    /// </summary>
    public static IReadOnlyList<string> QueueChanges(BrokerState start, BrokerState end)
    {
        var before = start.Queues.ToDictionary(q => q.Name);
        var after = end.Queues.ToDictionary(q => q.Name);
        var names = before.Keys.Union(after.Keys).Order(StringComparer.Ordinal).ToList();
        var idle = names.Where(name => IsIdle(before.GetValueOrDefault(name)) && IsIdle(after.GetValueOrDefault(name))).ToList();
        List<string> changes =
        [
            .. from name in names.Except(idle)
               select $"{name} {Describe(before.GetValueOrDefault(name))} → {Describe(after.GetValueOrDefault(name))}",
        ];
        if (idle.Count > 0)
        {
            changes.Add($"{idle.Count} more empty and without consumers at both");
        }

        return changes;

        static bool IsIdle(QueueState? queue) => queue is null or { Ready: 0, Unacknowledged: 0, Consumers: 0 };

        static string Describe(QueueState? queue) => queue is null
            ? "—"
            : string.Create(CultureInfo.InvariantCulture,
                $"{queue.Ready}+{queue.Unacknowledged}, {queue.Consumers} consumer{(queue.Consumers == 1 ? "" : "s")}");
    }

    private static long Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;
}
