using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Worker.Tests.Messaging;

/// <summary>
/// The machine's RabbitMQ (Debian's rabbitmq-server, which the set-up installs) as a process of the test's own: its
/// own node name, ports and state folder, guest/guest on loopback. Without the package the test is skipped, or
/// fails when <c>TEST_REQUIRE_INFRA=1</c> (as ./test.sh sets), since the set-up is meant to have installed it.
/// </summary>
internal sealed class LocalBroker : IAsyncDisposable
{
    private const string ServerPath = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private readonly string _state = Path.Combine(Path.GetTempPath(), "worker-tests-broker", Guid.NewGuid().ToString("N"));
    private Process? _server;

    private LocalBroker(int port) => Port = port;

    public int Port { get; }

    public string ConnectionString => $"amqp://guest:guest@127.0.0.1:{Port}/";

    /// <summary>A broker that is not running yet, on a port nothing listens on.</summary>
    public static LocalBroker OnFreePort()
    {
        if (!File.Exists(ServerPath))
        {
            Assert.SkipWhen(Environment.GetEnvironmentVariable("TEST_REQUIRE_INFRA") != "1",
                $"{ServerPath} is not installed (scripts/setup.sh installs it)");
            Assert.Fail($"{ServerPath} is not installed, and TEST_REQUIRE_INFRA=1 says the set-up has installed it");
        }

        return new LocalBroker(FreePort());
    }

    public async Task StartAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_state);
        await File.WriteAllTextAsync(Path.Combine(_state, "rabbitmq.conf"), "loopback_users = none\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_state, "enabled_plugins"), "[].", cancellationToken);
        var start = new ProcessStartInfo(ServerPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in new Dictionary<string, string>
        {
            ["RABBITMQ_NODE_PORT"] = $"{Port}",
            ["RABBITMQ_DIST_PORT"] = $"{FreePort()}",
            ["RABBITMQ_NODENAME"] = $"worker-tests-{Guid.NewGuid():N}@localhost",
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            // Distribution and epmd on loopback, as the AppHost's local broker (docs/security.md).
            ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1,::1",
            ["HOME"] = _state,
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(_state, "rabbitmq.conf"),
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(_state, "rabbitmq-env.conf"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_state, "enabled_plugins"),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(_state, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(_state, "log"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(_state, "rabbitmq.pid"),
            ["RABBITMQ_LOGS"] = "-",
        })
        {
            start.Environment[name] = value;
        }

        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (!await ServesAmqpAsync(deadline.Token))
        {
            Assert.False(_server.HasExited, $"rabbitmq-server exited with {(_server.HasExited ? _server.ExitCode : 0)}");
            await Task.Delay(200, deadline.Token);
        }
    }

    /// <summary>
    /// Whether the broker answers AMQP 0-9-1's protocol header with its first frame (connection.start, a method
    /// frame). An open port is not enough: while the node boots, its listener accepts connections and closes them.
    /// </summary>
    private async Task<bool> ServesAmqpAsync(CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            using var probe = new TcpClient();
            await probe.ConnectAsync(IPAddress.Loopback, Port, attempt.Token);
            var stream = probe.GetStream();
            await stream.WriteAsync("AMQP\0\0\u0009\u0001"u8.ToArray(), attempt.Token);
            var frameType = new byte[1];
            return await stream.ReadAsync(frameType, attempt.Token) == 1 && frameType[0] == 1;
        }
        catch (Exception e) when (e is SocketException or IOException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            await _server.WaitForExitAsync(CancellationToken.None);
        }

        _server?.Dispose();
        try
        {
            Directory.Delete(_state, recursive: true);
        }
        catch (IOException)
        {
            // the broker's last writes may race the deletion; the folder is under the temporary directory
        }
    }
}
