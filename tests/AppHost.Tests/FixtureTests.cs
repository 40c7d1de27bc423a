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
    public void The_gateways_ports_are_below_the_range_outgoing_connections_take_their_local_ports_from(string endpoint)
    {
        // Picked before the stack starts and bound when the gateway does, tens of seconds later: a port of that range
        // could be some connection's own end by then ("address already in use", seen once in CI).
        var ephemeral = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var port = stack.App.GetEndpoint("gateway", endpoint).Port;

        Assert.InRange(port, 1024, int.Parse(ephemeral[0], System.Globalization.CultureInfo.InvariantCulture) - 1);
    }
}
