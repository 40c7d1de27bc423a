using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Tests.Postgres;

/// <summary>
/// A real PostgreSQL server from the machine's binaries (Debian's postgresql-15), for tests: initdb into a temporary
/// folder, started on a free loopback port, stopped by its process id. PostgreSQL refuses to run as root, so as root
/// the folder belongs to the <c>postgres</c> user and both programs run through <c>setpriv</c>, which execs in place
/// (the process we start is the server). One server per test process (<see cref="SharedAsync"/>); each test takes a
/// schema or a database of its own. Trust authentication on 127.0.0.1 only, but for the roles a test restricts
/// (<see cref="RestrictAsync"/>): it lives for one test run.
/// </summary>
public sealed class PostgresTestServer : IAsyncDisposable
{
    private const string DefaultBinDirectory = "/usr/lib/postgresql/15/bin";
    private static readonly Lock Gate = new();
    private static Task<PostgresTestServer>? _shared;

    private readonly Process _server;
    private readonly string _directory;

    private PostgresTestServer(Process server, string directory, int port)
    {
        _server = server;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The server this test process shares, started on first use and stopped by <see cref="StopSharedAsync"/>.</summary>
    public static Task<PostgresTestServer> SharedAsync()
    {
        lock (Gate)
        {
            return _shared ??= StartAsync();
        }
    }

    public static async Task StopSharedAsync()
    {
        Task<PostgresTestServer>? shared;
        lock (Gate)
        {
            (shared, _shared) = (_shared, null);
        }

        if (shared is { IsCompletedSuccessfully: true })
        {
            await shared.Result.DisposeAsync();
        }
    }

    public static string BinDirectory =>
        Environment.GetEnvironmentVariable("POSTGRES_BIN_DIR") is { Length: > 0 } configured ? configured : DefaultBinDirectory;

    public string ConnectionString(string database = "postgres", string? searchPath = null) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = database,
        SearchPath = searchPath,
    }.ToString();

    /// <summary>A new, empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "test")
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await ExecuteAsync($"CREATE DATABASE {name}");
        return ConnectionString(name);
    }

    /// <summary>A new, empty schema in the <c>postgres</c> database; returns a connection string that works in it.</summary>
    public async Task<(string Schema, string ConnectionString)> CreateSchemaAsync(string prefix = "test")
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await ExecuteAsync($"CREATE SCHEMA {name}");
        return (name, ConnectionString(searchPath: name));
    }

    public async Task ExecuteAsync(string sql, string database = "postgres")
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Connections of <paramref name="role"/> (which exists) over TCP to <paramref name="database"/> (<c>all</c>: to
    /// any) are authenticated by <paramref name="method"/> (<c>scram-sha-256</c>: with its password; <c>reject</c>:
    /// not at all); every other connection keeps trust. Returns once the server refuses the role there without a
    /// password (a reload is a signal the server takes in its own time).
    /// </summary>
    public async Task RestrictAsync(string role, string method, string database = "all")
    {
        var hba = Path.Combine(_directory, "data", "pg_hba.conf");
        await HbaGate.WaitAsync();
        try
        {
            await File.WriteAllTextAsync(hba, $"host {database} {role} 127.0.0.1/32 {method}\n" + await File.ReadAllTextAsync(hba));
            await ExecuteAsync("SELECT pg_reload_conf()");
        }
        finally
        {
            HbaGate.Release();
        }

        var withoutPassword = new NpgsqlConnectionStringBuilder(ConnectionString(database == "all" ? "postgres" : database))
        {
            Username = role, Pooling = false,
        }.ConnectionString;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); ; await Task.Delay(50))
        {
            try
            {
                await using var connection = new NpgsqlConnection(withoutPassword);
                await connection.OpenAsync();
            }
            catch (NpgsqlException)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The server still lets {role} into {database} without a password.");
            }
        }
    }

    private static readonly SemaphoreSlim HbaGate = new(1, 1);

    public static async Task<PostgresTestServer> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("pg-tests-").FullName;
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            await RunAsync("chown", ["postgres:postgres", directory], asPostgres: false);
        }

        var data = Path.Combine(directory, "data");
        await RunAsync(Path.Combine(BinDirectory, "initdb"),
            ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], asRoot);
        for (var attempt = 1; ; attempt++)
        {
            var port = FreeLoopbackPort();
            // Durability is not what these tests are about: fsync off keeps them fast on a shared disk.
            var server = Start(Path.Combine(BinDirectory, "postgres"),
                ["-D", data, "-c", "listen_addresses=127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                 "-k", directory, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=200"], asRoot);
            var started = new PostgresTestServer(server, directory, port);
            if (await started.WaitUntilReadyAsync(TimeSpan.FromSeconds(30)))
            {
                return started;
            }

            await started.StopAsync(deleteDirectory: attempt >= 3);
            if (attempt >= 3)
            {
                throw new InvalidOperationException($"PostgreSQL did not start: {LogOf(server)}");
            }
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(deleteDirectory: true);

    private async Task StopAsync(bool deleteDirectory)
    {
        if (!_server.HasExited)
        {
            // SIGINT is PostgreSQL's fast shutdown (disconnects clients, no wait for them).
            using (var signal = Process.Start("kill", ["-INT", _server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await signal.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _server.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _server.Kill();
            }
        }

        _server.Dispose();
        if (deleteDirectory)
        {
            try { Directory.Delete(_directory, recursive: true); }
            catch (IOException) { }
        }
    }

    private async Task<bool> WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !_server.HasExited)
        {
            try
            {
                await ExecuteAsync("SELECT 1");
                return true;
            }
            catch (Exception exception) when (exception is NpgsqlException or SocketException or TimeoutException)
            {
                await Task.Delay(100);
            }
        }

        return false;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, System.Collections.Concurrent.ConcurrentQueue<string>> Logs = new();

    private static string LogOf(Process process) =>
        Logs.TryGetValue(process.Id, out var log) ? string.Join(Environment.NewLine, log) : string.Empty;

    private static Process Start(string program, IEnumerable<string> arguments, bool asPostgres)
    {
        var info = asPostgres
            ? new ProcessStartInfo("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", program, .. arguments])
            : new ProcessStartInfo(program, arguments);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.WorkingDirectory = Path.GetTempPath();
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start.");
        // Drain both pipes (a full pipe would block the server); keep the last lines for a failure message.
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        DataReceivedEventHandler keep = (_, line) =>
        {
            if (line.Data is null)
            {
                return;
            }

            log.Enqueue(line.Data);
            while (log.Count > 50 && log.TryDequeue(out string? _))
            {
            }
        };
        process.OutputDataReceived += keep;
        process.ErrorDataReceived += keep;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Logs.AddOrUpdate(process.Id, log, (_, _) => log);
        return process;
    }

    private static async Task RunAsync(string program, IEnumerable<string> arguments, bool asPostgres)
    {
        using var process = Start(program, arguments, asPostgres);
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} failed ({process.ExitCode}): {LogOf(process)}");
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
