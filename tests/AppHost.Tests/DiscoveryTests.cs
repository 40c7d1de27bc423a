using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AppHost.Tests;

/// <summary>Service discovery runs both ways: C# finds Python (every gateway test), and Python finds C#.</summary>
public sealed class DiscoveryTests(AppHostFixture stack)
{
    [Fact]
    public async Task Python_resolves_the_workers_real_address_from_the_variables_aspire_injects()
    {
        var worker = stack.App.GetEndpoint("worker", "http");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(AppHostFixture.StepTimeout);
        // The resource's instance id (not its name) addresses its console log.
        var python = await stack.App.ResourceNotifications.WaitForResourceAsync("python-inference",
            e => e.Snapshot.State?.Text == KnownResourceStates.Running, timeout.Token);

        // python-inference logs the address it resolved from services__worker__http__0 at start-up.
        const string Marker = "discovered at ";
        string? line = null;
        var logs = stack.App.Services.GetRequiredService<ResourceLoggerService>();
        await foreach (var batch in logs.WatchAsync(python.ResourceId).WithCancellation(timeout.Token))
        {
            line = batch.Select(l => l.Content).FirstOrDefault(content => content.Contains(Marker, StringComparison.Ordinal));
            if (line is not null)
            {
                break;
            }
        }

        Assert.NotNull(line);
        var address = line[(line.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..].Trim();
        var resolved = new Uri(address);
        Assert.Equal(worker.Scheme, resolved.Scheme);
        Assert.Equal(worker.Port, resolved.Port);
        using var client = new HttpClient { BaseAddress = resolved, Timeout = AppHostFixture.StepTimeout };
        using var health = await client.GetAsync("/health", timeout.Token);
        Assert.True(health.IsSuccessStatusCode, $"the Worker does not answer at {resolved}");
    }
}
