using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Sends the last traces, metrics and logs once every hosted service has stopped, all three at once and within
/// <see cref="Budget"/>; what the collector has not taken by then is dropped. Left to disposal, each provider waits up
/// to 5 s for its exports, one after another: a slow collector (the Aspire dashboard on a loaded machine) then held a
/// SIGTERMed Worker for about 15 s, past the orchestrator's patience. Once shut down here, disposal does not wait again.
/// </summary>
/// <remarks>
/// A provider's <c>Shutdown</c> and its <c>Dispose</c> must not overlap: OpenTelemetry's tracer provider walks and
/// clears the same list in both ("Collection was modified" in a test host, which may dispose its container while it
/// stops). The container disposes this service before the providers it resolved, so disposing it waits for the
/// shutdowns in flight, and once disposed it starts none. A host stopped twice shuts the providers down once: the
/// second stop waits for the first's shutdowns (a provider's second <c>Shutdown</c> returns at once, and waiting for
/// that alone let the container dispose the provider while the first still ran).
/// </remarks>
internal sealed class TelemetryFlushOnStop(IServiceProvider services) : IHostedLifecycleService, IDisposable
{
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    // Resolved when the host starts: by StoppedAsync a test host may already have disposed its container.
    private readonly TracerProvider? _traces = services.GetService<TracerProvider>();
    private readonly MeterProvider? _metrics = services.GetService<MeterProvider>();
    private readonly LoggerProvider? _logs = services.GetService<LoggerProvider>();
    private readonly Lock _gate = new();
    private Task? _shutdowns;
    private bool _disposed;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return Task.CompletedTask;
            }

            return _shutdowns ??= ShutDownAll();
        }
    }

    private Task ShutDownAll()
    {
        var budget = (int)Budget.TotalMilliseconds;
        var shutdowns = new List<Func<bool>>();
        if (_traces is { } traces)
        {
            shutdowns.Add(() => traces.Shutdown(budget));
        }

        if (_metrics is { } metrics)
        {
            shutdowns.Add(() => metrics.Shutdown(budget));
        }

        if (_logs is { } logs)
        {
            shutdowns.Add(() => logs.Shutdown(budget));
        }

        // Shutdown blocks its thread until done or out of time: one thread each, so the budget is not tripled.
        return Task.WhenAll(shutdowns.Select(shutdown => Task.Run(() => ShutDownQuietly(shutdown), CancellationToken.None)));
    }

    public void Dispose()
    {
        Task shutdowns;
        lock (_gate)
        {
            _disposed = true;
            shutdowns = _shutdowns ?? Task.CompletedTask;
        }

        // Bounded: each shutdown has the budget, and they run side by side. A failure was StoppedAsync's to report.
        try
        {
            shutdowns.Wait(Budget + Budget);
        }
        catch (AggregateException)
        {
        }
    }

    private static void ShutDownQuietly(Func<bool> shutdown)
    {
        try
        {
            shutdown();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed with its container: nothing is left to send.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
