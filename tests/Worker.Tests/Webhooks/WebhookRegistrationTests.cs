using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

public sealed class WebhookRegistrationTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Service_discovery_does_not_rewrite_a_callback_host()
    {
        // Aspire injects "services__<name>__http__0" entries; with service discovery on this client, a callback to
        // http://localhost:<port> would go to the address configured for a service named "localhost".
        await using var callback = await WebhookReceiver.StartAsync();
        await using var service = await WebhookReceiver.StartAsync();
        using var host = WebhookHost.Build(new Dictionary<string, string?> { ["Services:localhost:http:0"] = service.BaseUri.ToString() });
        var sender = host.Services.GetRequiredService<IWebhookSender>();

        var outcome = await sender.DeliverAsync(
            new WebhookDelivery("delivery-1", $"http://localhost:{callback.BaseUri.Port}/hook", "{}"u8.ToArray()), Token);

        Assert.Equal(new WebhookOutcome.Delivered(1, 204), outcome);
        Assert.Single(callback.Received);
        Assert.Empty(service.Received);
    }

    [Theory]
    [InlineData("Webhooks:SigningSecret", "")]
    [InlineData("Webhooks:SigningSecret", "only-31-characters-long-secret!")]
    [InlineData("Webhooks:AllowedNetworks:0", "127.0.0.1")]
    [InlineData("Webhooks:AllowedNetworks:0", "10.0.0.0/33")]
    [InlineData("Webhooks:AllowedNetworks:0", "localhost")]
    [InlineData("Webhooks:MaxAttempts", "0")]
    [InlineData("Webhooks:MaxDelay", "00:00:00.001")]
    public async Task Invalid_settings_stop_the_host_at_start(string key, string value)
    {
        using var host = WebhookHost.Build(new Dictionary<string, string?> { [key] = value });

        await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Token));
    }

    [Fact]
    public void The_defaults_are_the_documented_ones()
    {
        var options = new WebhookOptions();

        Assert.Empty(options.AllowedNetworks);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Timeout);
        Assert.Equal(5, options.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(1), options.BaseDelay);
        Assert.Equal(TimeSpan.FromSeconds(60), options.MaxDelay);
        Assert.Equal(TimeSpan.FromMinutes(5), options.ReplayTolerance);
    }
}
