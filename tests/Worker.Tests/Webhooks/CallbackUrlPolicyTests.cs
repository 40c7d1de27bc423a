using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

public sealed class CallbackUrlPolicyTests
{
    private const string Secret = "policy-tests-never-sign-anything-0123";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static CallbackUrlPolicy Policy(params string[] allowedNetworks)
    {
        var options = new WebhookOptions { SigningSecret = Secret };
        foreach (var network in allowedNetworks)
        {
            options.AllowedNetworks.Add(network);
        }

        return new CallbackUrlPolicy(Options.Create(options));
    }

    /// <summary>A policy whose DNS answers every name with <paramref name="addresses"/>, or fails when there are none.</summary>
    private static CallbackUrlPolicy PolicyResolvingTo(params string[] addresses) =>
        new(Options.Create(new WebhookOptions { SigningSecret = Secret }), (_, _) =>
            addresses.Length == 0
                ? Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound))
                : Task.FromResult(addresses.Select(IPAddress.Parse).ToArray()));

    [Theory]
    [InlineData("http://127.0.0.1/hook")] // loopback
    [InlineData("http://127.8.9.10:8080/hook")] // loopback
    [InlineData("http://2130706433/hook")] // loopback; 127.0.0.1 written as one decimal number
    [InlineData("http://[::1]/hook")] // loopback
    [InlineData("http://10.1.2.3/hook")] // private
    [InlineData("http://172.16.0.1/hook")] // private
    [InlineData("http://172.31.255.254/hook")] // private
    [InlineData("https://192.168.1.1/hook")] // private
    [InlineData("http://[fc00::1]/hook")] // private
    [InlineData("http://[fd12:3456::1]/hook")] // private
    [InlineData("http://169.254.169.254/latest/meta-data/")] // link-local
    [InlineData("http://[fe80::1]/hook")] // link-local
    [InlineData("http://[::ffff:10.0.0.1]/hook")] // private
    [InlineData("http://[::ffff:127.0.0.1]/hook")] // loopback
    [InlineData("http://[64:ff9b::a00:1]/hook")] // private; NAT64 form of 10.0.0.1
    [InlineData("http://0.0.0.0/hook")] // unspecified
    [InlineData("http://[::]/hook")] // unspecified
    [InlineData("http://100.64.0.1/hook")] // carrier-grade NAT
    [InlineData("http://224.0.0.1/hook")] // multicast
    [InlineData("http://[ff02::1]/hook")] // multicast
    [InlineData("http://255.255.255.255/hook")] // broadcast
    public async Task Internal_addresses_are_refused_with_the_one_generic_text(string url)
    {
        var check = await Policy().ValidateAsync(url, Token);

        // Whatever the reason (the detail goes to the log only), the caller learns nothing about the network.
        Assert.False(check.IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, check.Reason);
    }

    [Theory]
    [InlineData("http://93.184.216.34/hook")]
    [InlineData("https://93.184.216.34:443/hooks/job?token=abc")]
    [InlineData("http://93.184.216.34:80/hooks/job")]
    [InlineData("https://[2606:2800:220:1:248:1893:25c8:1946]/hook")]
    [InlineData("http://172.32.0.1/hook")] // just outside 172.16.0.0/12
    [InlineData("http://100.128.0.1/hook")] // just outside 100.64.0.0/10
    public async Task Public_addresses_are_allowed(string url)
    {
        var check = await Policy().ValidateAsync(url, Token);

        Assert.True(check.IsAllowed, check.Reason);
        Assert.Equal(new Uri(url), check.Uri);
    }

    [Theory]
    [InlineData("https://93.184.216.34:8443/hooks/job?token=abc")]
    [InlineData("http://93.184.216.34:8080/hook")]
    [InlineData("http://93.184.216.34:22/")]
    [InlineData("https://[2606:2800:220:1:248:1893:25c8:1946]:444/hook")]
    public async Task A_public_address_on_a_port_that_is_not_allowed_is_refused_with_the_one_generic_text(string url)
    {
        var check = await Policy().ValidateAsync(url, Token);

        Assert.False(check.IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, check.Reason);
    }

    [Fact]
    public async Task The_allowed_ports_are_configurable_and_replace_the_defaults()
    {
        var options = new WebhookOptions { SigningSecret = Secret, AllowedPorts = [8443] };
        var policy = new CallbackUrlPolicy(Options.Create(options));

        Assert.True((await policy.ValidateAsync("https://93.184.216.34:8443/hook", Token)).IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, (await policy.ValidateAsync("https://93.184.216.34/hook", Token)).Reason);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ftp://93.184.216.34/hook")]
    [InlineData("file:///etc/passwd")]
    [InlineData("mailto:ops@example.com")]
    [InlineData("/hooks/job")]
    [InlineData("hooks/job")]
    [InlineData("http://user:secret@93.184.216.34/hook")]
    [InlineData("http://user@93.184.216.34/hook")]
    public async Task Urls_that_are_not_absolute_http_without_credentials_are_refused(string? url) =>
        Assert.False((await Policy().ValidateAsync(url, Token)).IsAllowed);

    [Fact]
    public async Task A_url_longer_than_2048_characters_is_refused()
    {
        var url = "https://93.184.216.34/" + new string('a', CallbackUrlPolicy.MaxUrlLength);

        var check = await Policy().ValidateAsync(url, Token);

        Assert.False(check.IsAllowed);
        Assert.Contains("2048", check.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Localhost_resolves_to_loopback_and_is_refused_without_an_allow_list()
    {
        var check = await Policy().ValidateAsync("http://localhost:5000/hook", Token);

        Assert.False(check.IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, check.Reason);
    }

    [Fact]
    public async Task The_allow_list_permits_its_networks_and_nothing_else()
    {
        var policy = Policy("127.0.0.0/8", "::1/128");

        Assert.True((await policy.ValidateAsync("http://127.0.0.1:5000/hook", Token)).IsAllowed);
        Assert.True((await policy.ValidateAsync("http://localhost:5000/hook", Token)).IsAllowed);
        Assert.True((await policy.ValidateAsync("http://[::ffff:127.0.0.1]:5000/hook", Token)).IsAllowed);
        Assert.True((await policy.ValidateAsync("http://[::1]:5000/hook", Token)).IsAllowed);
        Assert.False((await policy.ValidateAsync("http://10.0.0.1/hook", Token)).IsAllowed);
        Assert.False((await policy.ValidateAsync("http://169.254.169.254/", Token)).IsAllowed);
    }

    [Fact]
    public async Task A_name_with_one_internal_address_among_public_ones_is_refused()
    {
        var check = await PolicyResolvingTo("93.184.216.34", "10.0.0.7").ValidateAsync("https://mixed.example/hook", Token);

        Assert.False(check.IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, check.Reason);
    }

    [Fact]
    public async Task A_name_with_only_public_addresses_is_allowed() =>
        Assert.True((await PolicyResolvingTo("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
            .ValidateAsync("https://public.example/hook", Token)).IsAllowed);

    [Fact]
    public async Task A_name_that_does_not_resolve_is_refused()
    {
        var check = await PolicyResolvingTo().ValidateAsync("https://nowhere.example/hook", Token);

        Assert.False(check.IsAllowed);
        Assert.Equal(CallbackUrlPolicy.RefusedText, check.Reason);
    }

    [Theory]
    [InlineData("93.184.216.34", true)]
    [InlineData("8.8.8.8", true)]
    [InlineData("2001:4860:4860::8888", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.255.255.255", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("::ffff:192.168.0.1", false)]
    [InlineData("fe80::1%2", false)]
    public void Addresses_are_checked_at_connect_time_too(string address, bool allowed) =>
        Assert.Equal(allowed, Policy().IsAddressAllowed(IPAddress.Parse(address)));
}
