using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

[assembly: AssemblyFixture(typeof(AppHost.Tests.AppHostFixture))]

namespace AppHost.Tests;

/// <summary>
/// Starts the real AppHost once for the whole assembly: the machine's RabbitMQ, the real python-inference and
/// both C# services, and waits until every one of them reports healthy.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);
    public static readonly string[] Resources = ["messaging", "python-inference", "worker", "gateway"];

    private DistributedApplication? _app;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The AppHost has not started.");

    public HttpClient Gateway { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            ["--Messaging:Runtime=local"], timeout.Token);
        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Warning);
            // The services' own console output (which the outage tests make noisy on purpose) is shown only
            // when asked for: APPHOST_TESTS_RESOURCE_LOGS=1.
            if (Environment.GetEnvironmentVariable("APPHOST_TESTS_RESOURCE_LOGS") != "1")
            {
                logging.AddFilter("AppHost.Resources", LogLevel.None);
                logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
            }
        });

        _app = await builder.BuildAsync(timeout.Token);
        await _app.StartAsync(timeout.Token);
        foreach (var resource in Resources)
        {
            await WaitHealthyAsync(resource, timeout.Token);
        }

        Gateway = _app.CreateHttpClient("gateway");
        Gateway.Timeout = StepTimeout;
    }

    public Task WaitHealthyAsync(string resource, CancellationToken cancellationToken) =>
        App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);

    public async Task StopResourceAsync(string resource, CancellationToken cancellationToken)
    {
        var commands = App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StopCommand, cancellationToken);
        Assert.True(result.Success, $"stopping {resource}: {result.Message}");
        await App.ResourceNotifications.WaitForResourceAsync(resource,
            e => e.Snapshot.State?.Text is "Exited" or "Finished" or "FailedToStart", cancellationToken);
    }

    public async Task StartResourceAsync(string resource, CancellationToken cancellationToken)
    {
        var commands = App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, cancellationToken);
        Assert.True(result.Success, $"starting {resource}: {result.Message}");
        await WaitHealthyAsync(resource, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Gateway?.Dispose();
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(StepTimeout);
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }
    }
}
