using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Worker.Tests.Defaults;

/// <summary>
/// The two flavours of service defaults: with the standard resilience handler on every HttpClient, or without, so a
/// client's own policy is the only one (the gateway and the Worker use the basic defaults).
/// </summary>
public sealed class ServiceDefaultsTests
{
    private sealed class AlwaysUnavailable : HttpMessageHandler
    {
        public int Attempts;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Attempts);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        }
    }

    private static async Task<int> AttemptsForOneRequestAsync(Action<HostApplicationBuilder> addDefaults)
    {
        var builder = Host.CreateApplicationBuilder();
        addDefaults(builder);
        builder.Services.ConfigureAll<HttpStandardResilienceOptions>(options => options.Retry.Delay = TimeSpan.Zero);
        var upstream = new AlwaysUnavailable();
        builder.Services.AddHttpClient("probe").ConfigurePrimaryHttpMessageHandler(() => upstream);
        using var host = builder.Build();

        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("probe");
        using var response = await client.GetAsync(new Uri("http://probe.test/"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        return upstream.Attempts;
    }

    [Fact]
    public async Task Basic_defaults_leave_a_client_without_retries_of_its_own() =>
        Assert.Equal(1, await AttemptsForOneRequestAsync(builder => builder.AddBasicServiceDefaults()));

    [Fact]
    public async Task Full_defaults_give_every_client_the_standard_retries() =>
        Assert.Equal(4, await AttemptsForOneRequestAsync(builder => builder.AddServiceDefaults()));

    /// <summary>A span processor whose shutdown takes a while and which notes being disposed during it.</summary>
    private sealed class SlowShutdown : BaseProcessor<System.Diagnostics.Activity>
    {
        private volatile bool _shuttingDown;

        public TaskCompletionSource ShutdownStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool DisposedDuringShutdown { get; private set; }

        protected override bool OnShutdown(int timeoutMilliseconds)
        {
            _shuttingDown = true;
            ShutdownStarted.TrySetResult();
            Thread.Sleep(500);
            _shuttingDown = false;
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            DisposedDuringShutdown |= _shuttingDown;
            base.Dispose(disposing);
        }
    }

    [Fact]
    public async Task A_host_stopped_twice_disposes_its_tracer_provider_only_after_the_first_stop_s_shutdown()
    {
        // A test host stops from the factory and from the application's own shutdown; OpenTelemetry's tracer provider
        // must not be disposed while a shutdown walks the same list ("Collection was modified").
        var token = TestContext.Current.CancellationToken;
        var processor = new SlowShutdown();
        var builder = Host.CreateApplicationBuilder();
        builder.AddBasicServiceDefaults();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddProcessor(processor));
        var host = builder.Build();
        await host.StartAsync(token);

        var first = host.StopAsync(token);
        await processor.ShutdownStarted.Task.WaitAsync(TimeSpan.FromSeconds(10), token);
        await host.StopAsync(token); // the provider is already shutting down: this stop's shutdown returns at once
        host.Dispose();
        await first;

        Assert.False(processor.DisposedDuringShutdown);
    }
}
