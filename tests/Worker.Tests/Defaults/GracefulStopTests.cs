using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Tests.Postgres;

namespace Worker.Tests.Defaults;

/// <summary>
/// A stopping Worker exits within a couple of seconds even when its telemetry collector does not answer. Before the
/// bounded flush, disposing the tracer, meter and logger providers waited up to 5 s each on exports to a collector
/// that was slow to answer (the Aspire dashboard on a loaded machine), so a SIGTERMed replica outlived Aspire's stop
/// and the end-to-end kill test failed at its graceful stop (seen with dotnet-stack: the host blocked in
/// TracerProviderSdk.Dispose, every exporter thread in an OTLP export). The Worker here runs on PostgreSQL, as there.
/// </summary>
public sealed class GracefulStopTests
{
    // Flush budget (2 s) plus the host's own stop, with room for a loaded machine; without the bound it took about 15 s.
    private static readonly TimeSpan PromptStop = TimeSpan.FromSeconds(8);

    [Fact(Timeout = 120_000)]
    public async Task A_worker_on_postgres_stops_promptly_while_its_telemetry_collector_does_not_answer()
    {
        var token = TestContext.Current.CancellationToken;
        var server = await PostgresTestServer.SharedAsync();
        using var collector = new SilentCollector();
        var worker = new WorkerFactory(await server.CreateDatabaseAsync("graceful_stop"), collector.Endpoint);
        try
        {
            using var http = worker.CreateClient(); // starts the host: migrations, consumers, relay, telemetry
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                Security.ServiceTokens.Gateway("stopper", "jobs"));
            // Some of every signal is waiting to be exported: request and database spans, logs, metrics.
            for (var i = 0; i < 5; i++)
            {
                var page = await http.GetFromJsonAsync<JsonElement>("/v1/jobs", token);
                Assert.Equal(0, page.GetProperty("items").GetArrayLength());
            }

            await collector.WaitForExportAsync(TimeSpan.FromSeconds(30), token);
        }
        catch
        {
            await worker.DisposeAsync();
            throw;
        }

        var stopping = Stopwatch.StartNew();
        await worker.DisposeAsync(); // the host's stop and disposal, as after SIGTERM
        stopping.Stop();
        Assert.True(stopping.Elapsed < PromptStop,
            $"the Worker took {stopping.Elapsed.TotalSeconds:0.0} s to stop while its collector did not answer");
    }

    private sealed class WorkerFactory(string database, Uri collector) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("Database:Provider", "postgres");
            builder.UseSetting("ConnectionStrings:workerdb", database);
            // No broker: the consumers keep retrying in the background, which a stop must also end at once.
            builder.UseSetting("ConnectionStrings:messaging", $"amqp://guest:guest@127.0.0.1:{SilentCollector.ClosedPort()}/");
            builder.UseSetting("Webhooks:SigningSecret", "graceful-stop-tests-secret-0123456789");
            foreach (var (key, value) in Security.ServiceTokens.WorkerSettings)
            {
                builder.UseSetting(key, value);
            }

            // As Aspire configures a service: OTLP over gRPC, batches sent every second.
            builder.UseSetting("OTEL_EXPORTER_OTLP_ENDPOINT", collector.ToString());
            builder.UseSetting("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
            builder.UseSetting("OTEL_BSP_SCHEDULE_DELAY", "1000");
            builder.UseSetting("OTEL_BLRP_SCHEDULE_DELAY", "1000");
            builder.UseSetting("OTEL_METRIC_EXPORT_INTERVAL", "1000");
        }
    }

    /// <summary>A collector that accepts connections and never answers: each export waits for its own timeout.</summary>
    private sealed class SilentCollector : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _held = [];
        private readonly TaskCompletionSource _firstExport = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _accepting;

        public SilentCollector()
        {
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public Uri Endpoint => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

        public static int ClosedPort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public Task WaitForExportAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
            _firstExport.Task.WaitAsync(timeout, cancellationToken);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync();
                    lock (_held)
                    {
                        _held.Add(socket);
                    }

                    _firstExport.TrySetResult();
                }
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                // stopped
            }
        }

        public void Dispose()
        {
            _listener.Stop();
            lock (_held)
            {
                _held.ForEach(socket => socket.Dispose());
            }

            _accepting.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
