using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Worker.Extensions;
using Worker.Inference;

namespace Worker.Tests.Inference;

/// <summary>
/// A model call writes no <c>IHttpClientFactory</c> log lines (four at Information per call before, on every batch of
/// jobs), over either transport. python-inference is a loopback listener here that takes each connection and closes
/// it: the request goes through the client's handlers (gRPC sends nothing through them to a refused port) and fails,
/// and the lines the factory's handlers would have written on the way are what the test looks for.
/// </summary>
public sealed class InferenceClientLoggingTests
{
    [Theory]
    [InlineData("Grpc")]
    [InlineData("Http")]
    public async Task A_model_call_writes_no_HttpClient_factory_log_lines(string transport)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = HangUpOnEveryConnectionAsync(listener);
        var address = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Inference:Transport"] = transport });
        var logs = new CapturedLogs();
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddProvider(logs);
        builder.Services.Configure<InferenceOptions>(options => (options.BaseAddress, options.GrpcAddress) = (address, address));
        builder.Services.AddMetrics().AddSingleton<InferenceCallMetrics>();
        builder.AddInferenceClient();
        using var host = builder.Build();
        IInferenceClient client = transport == "Grpc"
            ? host.Services.GetRequiredService<GrpcInferenceClient>()
            : host.Services.GetRequiredService<HttpInferenceClient>();

        var outcomes = await client.PredictManyAsync("sentiment", [JsonElement.Parse("""["fine"]""")],
            TestContext.Current.CancellationToken);

        Assert.IsType<InferenceOutcome.Unavailable>(Assert.Single(outcomes));
        Assert.DoesNotContain(logs.Categories, category => category.StartsWith("System.Net.Http.HttpClient", StringComparison.Ordinal));
    }

    private static async Task HangUpOnEveryConnectionAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                using var connection = await listener.AcceptTcpClientAsync();
            }
        }
        catch (Exception exception) when (exception is ObjectDisposedException or SocketException)
        {
            // The test is over: the listener stopped.
        }
    }

    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<string> Categories { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Categories);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> written) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
                Func<TState, Exception?, string> formatter) => written.Enqueue(category);
        }
    }
}
