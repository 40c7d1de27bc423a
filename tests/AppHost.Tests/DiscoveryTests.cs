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

        var discovered = new List<string>();
        var logs = stack.App.Services.GetRequiredService<ResourceLoggerService>();
        await foreach (var batch in logs.WatchAsync(python.ResourceId).WithCancellation(timeout.Token))
        {
            discovered.AddRange(batch.Select(line => line.Content).Where(line => line.Contains("discovered at", StringComparison.Ordinal)));
            if (discovered.Count > 0)
            {
                break;
            }
        }

        // python-inference logs the address it resolved from services__worker__http__0 at start-up.
        var address = discovered[0][(discovered[0].IndexOf("discovered at ", StringComparison.Ordinal) + "discovered at ".Length)..].Trim();
        var resolved = new Uri(address);
        Assert.Equal(worker.Scheme, resolved.Scheme);
        Assert.Equal(worker.Port, resolved.Port);
        using var client = new HttpClient { BaseAddress = resolved, Timeout = AppHostFixture.StepTimeout };
        Assert.True((await client.GetAsync("/health", timeout.Token)).IsSuccessStatusCode, $"the Worker does not answer at {resolved}");
    }
}
