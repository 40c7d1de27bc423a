using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

/// <summary>Global unicast addresses on the allowed ports only, and one answer for every refused host.</summary>
public sealed class CallbackAddressPolicyTests
{
    private const string Secret = "policy-tests-never-sign-anything-0123";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static CallbackUrlPolicy Policy(IEnumerable<string>? allowedNetworks = null, IEnumerable<int>? allowedPorts = null,
        params string[] resolvesTo)
    {
        var options = new WebhookOptions { SigningSecret = Secret };
        foreach (var network in allowedNetworks ?? [])
        {
            options.AllowedNetworks.Add(network);
        }

        options.AllowedPorts.AddRange(allowedPorts ?? []);
        return new CallbackUrlPolicy(Options.Create(options), (_, _) =>
            resolvesTo.Length == 0
                ? Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound))
                : Task.FromResult(resolvesTo.Select(IPAddress.Parse).ToArray()));
    }

    [Theory]
    // IPv6 transition addresses, whatever IPv4 address they embed (here a public one, 8.8.8.8)
    [InlineData("2002:808:808::1")] // 6to4
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7")] // Teredo
    [InlineData("64:ff9b::808:808")] // NAT64
    [InlineData("64:ff9b:1::808:808")] // local-use NAT64
    [InlineData("::ffff:8.8.8.8")] // IPv4-mapped
    [InlineData("::8.8.8.8")] // IPv4-compatible
    // IPv4 outside global unicast
    [InlineData("10.0.0.1")]
    [InlineData("172.16.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("127.0.0.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("240.0.0.1")]
    [InlineData("192.0.0.8")]
    [InlineData("192.0.2.1")] // documentation
    [InlineData("198.51.100.1")] // documentation
    [InlineData("203.0.113.1")] // documentation
    [InlineData("198.18.0.1")] // benchmarking
    [InlineData("192.88.99.1")] // 6to4 relay
    // IPv6 outside global unicast
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("fc00::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("fe80::1")]
    [InlineData("fec0::1")]
    [InlineData("ff02::1")]
    [InlineData("2001:db8::1")] // documentation
    [InlineData("3fff::1")] // documentation
    [InlineData("2001:2::1")] // benchmarking
    [InlineData("100::1")] // discard-only
    [InlineData("4000::1")] // outside 2000::/3
    public void Addresses_that_are_not_global_unicast_are_refused(string address) =>
        Assert.False(Policy().IsAddressAllowed(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("93.184.216.34")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2001:4860:4860::8888")]
    [InlineData("2606:2800:220:1:248:1893:25c8:1946")]
    [InlineData("2003::1")] // just past 6to4
    [InlineData("2001:200::1")] // just past 2001::/23
    public void Global_unicast_addresses_are_allowed(string address) =>
        Assert.True(Policy().IsAddressAllowed(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://93.184.216.34/hook", true)]
    [InlineData("https://93.184.216.34/hook", true)]
    [InlineData("http://93.184.216.34:443/hook", true)]
    [InlineData("https://93.184.216.34:80/hook", true)]
    [InlineData("https://93.184.216.34:8443/hook", false)]
    [InlineData("http://93.184.216.34:8080/hook", false)]
    [InlineData("http://93.184.216.34:22/hook", false)]
    [InlineData("http://[2606:2800:220:1:248:1893:25c8:1946]:6379/hook", false)]
    public async Task Only_ports_80_and_443_are_allowed_by_default(string url, bool allowed) =>
        Assert.Equal(allowed, (await Policy().ValidateAsync(url, Token)).IsAllowed);

    [Fact]
    public async Task The_allowed_ports_are_configurable()
    {
        var policy = Policy(allowedPorts: [8443]);

        Assert.True((await policy.ValidateAsync("https://93.184.216.34:8443/hook", Token)).IsAllowed);
        Assert.False((await policy.ValidateAsync("https://93.184.216.34/hook", Token)).IsAllowed);
    }

    [Fact]
    public async Task An_allowed_network_is_an_exception_on_any_port_but_only_for_its_addresses()
    {
        var policy = Policy(["127.0.0.0/8"], null, "127.0.0.1");

        Assert.True((await policy.ValidateAsync("http://127.0.0.1:5000/hook", Token)).IsAllowed);
        Assert.True((await policy.ValidateAsync("http://receiver.test:5000/hook", Token)).IsAllowed);
        Assert.True(policy.IsAddressAllowed(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.False((await policy.ValidateAsync("http://93.184.216.34:5000/hook", Token)).IsAllowed);
        Assert.False((await policy.ValidateAsync("http://[2002:7f00:1::1]/hook", Token)).IsAllowed); // 6to4 of 127.0.0.1
    }

    [Theory]
    [InlineData("http://127.0.0.1/hook")] // loopback
    [InlineData("http://10.1.2.3/hook")] // private
    [InlineData("http://169.254.169.254/latest/meta-data/")] // link-local
    [InlineData("http://[2002:a00:1::1]/hook")] // 6to4
    [InlineData("http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/hook")] // Teredo
    [InlineData("http://[64:ff9b::a00:1]/hook")] // NAT64
    [InlineData("http://[64:ff9b:1::a00:1]/hook")] // local-use NAT64
    [InlineData("http://[::ffff:10.0.0.1]/hook")] // IPv4-mapped
    [InlineData("http://93.184.216.34:8080/hook")] // port
    [InlineData("http://internal.example/hook")] // a name resolving to a private address
    [InlineData("http://nowhere.example/hook")] // a name that does not resolve
    [InlineData("http://mixed.example/hook")] // a name with a public and a private address
    public async Task Every_refused_host_reads_the_same_text(string url)
    {
        var host = new Uri(url).Host;
        string[] addresses = host switch
        {
            "internal.example" => ["10.0.0.7"],
            "mixed.example" => ["93.184.216.34", "10.0.0.7"],
            _ => [],
        };

        var check = await Policy(null, null, addresses).ValidateAsync(url, Token);

        Assert.False(check.IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, check.Reason);
    }

    [Theory]
    // Each transition block at its edges, embedding a public IPv4 address (the case a "does it embed a private
    // address?" check would let through).
    [InlineData("2002::")] // 6to4, first
    [InlineData("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff")] // 6to4, last
    [InlineData("2001::808:808")] // Teredo, first /32 bits
    [InlineData("2001:0:ffff:ffff:ffff:ffff:ffff:ffff")] // Teredo, last
    [InlineData("64:ff9b::")] // NAT64, first
    [InlineData("64:ff9b::ffff:ffff")] // NAT64, last
    [InlineData("64:ff9b:1::")] // local-use NAT64, first
    [InlineData("64:ff9b:1:ffff:ffff:ffff:ffff:ffff")] // local-use NAT64, last
    [InlineData("2002:0808:0808:0000:0000:0000:0000:0001")] // written out in full
    public void Every_address_of_the_ipv6_transition_blocks_is_refused(string address) =>
        Assert.False(Policy().IsAddressAllowed(IPAddress.Parse(address)));

    [Theory]
    [InlineData("2002:808:808::1")] // 6to4 of 8.8.8.8
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7")] // Teredo
    [InlineData("64:ff9b::808:808")] // NAT64 of 8.8.8.8
    [InlineData("64:ff9b:1::808:808")] // local-use NAT64
    public async Task A_name_resolving_to_a_transition_address_is_refused_with_the_one_text_at_submission_and_at_connect(string address)
    {
        var policy = Policy(null, null, address);

        var check = await policy.ValidateAsync("https://transition.example/hook", Token);
        var atConnect = Assert.Throws<CallbackAddressRefusedException>(() =>
            policy.EnsureConnectable("transition.example", 443, [IPAddress.Parse(address)]));

        Assert.False(check.IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, check.Reason);
        Assert.Equal(CallbackUrlPolicy.RefusedText, atConnect.Message);
    }

    [Fact]
    public void The_refusal_text_does_not_tell_what_kind_of_address_was_found()
    {
        foreach (var word in new[] { "private", "internal", "loopback", "resolve", "6to4", "Teredo", "NAT64", "IPv6", "transition" })
        {
            Assert.DoesNotContain(word, CallbackUrlPolicy.RefusedText, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData("10.0.0.1", 443)]
    [InlineData("2002:808:808::1", 443)]
    [InlineData("93.184.216.34", 8080)]
    public void At_connect_time_a_refused_address_or_port_throws_the_same_text(string address, int port)
    {
        var exception = Assert.Throws<CallbackAddressRefusedException>(() =>
            Policy().EnsureConnectable("rebinding.example", port, [IPAddress.Parse(address)]));

        Assert.Equal(CallbackUrlPolicy.RefusedText, exception.Message);
    }

    [Fact]
    public void At_connect_time_a_public_address_on_an_allowed_port_passes() =>
        Policy().EnsureConnectable("public.example", 443, [IPAddress.Parse("93.184.216.34")]);
}
