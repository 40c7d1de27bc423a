using Aspire.Hosting.Testing;

namespace AppHost.Tests;

/// <summary>What the shared stack keeps for its own failures, and how it avoids one.</summary>
public sealed class FixtureTests(AppHostFixture stack)
{
    [Theory]
    [InlineData("gateway")]
    [InlineData("worker")]
    [InlineData("python-inference")]
    public void Each_resources_last_console_lines_are_kept_to_explain_a_start_that_fails(string resource) =>
        Assert.False(string.IsNullOrWhiteSpace(stack.LastLinesOf(resource)), $"nothing kept of {resource}'s console");

    [Theory]
    [InlineData("http")]
    [InlineData("https")]
    public void The_gateways_ports_lie_outside_the_ranges_outgoing_connections_and_aspire_take_ports_from(string endpoint)
    {
        // Picked before the stack starts and bound when the gateway does, tens of seconds later: a port of either
        // range could be some connection's own end, or another stack's resource's, by then ("address already in use",
        // seen in CI for the first and in a run of the PostgreSQL stack alone for the second).
        var ephemeral = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            .Select(int.Parse).ToArray();
        var port = stack.App.GetEndpoint("gateway", endpoint).Port;

        Assert.InRange(port, 1024, 65535);
        Assert.False(port >= ephemeral[0] && port <= ephemeral[1], $"{port} is in the ephemeral range {ephemeral[0]}-{ephemeral[1]}");
        var aspire = TestHarness.LoopbackPorts.AspireRange();
        Assert.False(port >= aspire.First && port <= aspire.Last, $"{port} is in Aspire's port range {aspire.First}-{aspire.Last}");
    }

    [Fact]
    public void Aspire_gives_each_worker_replica_its_own_port_from_its_range_which_the_gateways_therefore_avoid()
    {
        // The premise of the test above: if a later Aspire moves its range, LoopbackPorts must follow.
        var (first, last) = TestHarness.LoopbackPorts.AspireRange();
        Assert.All(stack.ReplicasOf("worker"), replica => Assert.InRange(stack.OwnAddressOf(replica).Port, first, last));
    }

    [Fact]
    public void The_ports_outside_the_taken_ranges_are_every_unprivileged_port_in_neither()
    {
        Assert.Equal([(1024, 9999), (61000, 65535)], TestHarness.LoopbackPorts.FreeRanges([(32768, 60999), (10000, 32767)]));
        Assert.Equal([(1024, 4999), (6001, 65535)], TestHarness.LoopbackPorts.FreeRanges([(5000, 6000), (5500, 5600)]));
        Assert.Equal([(2000, 65535)], TestHarness.LoopbackPorts.FreeRanges([(1, 1999)]));
        Assert.Throws<InvalidOperationException>(() => TestHarness.LoopbackPorts.FreeRanges([(1024, 40000), (30000, 65535)]));
    }
}
