using System.Diagnostics;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AppHost.Database;

public static class LocalPostgresServerExtensions
{
    public const string BinDirectoryConfigurationKey = "Database:Local:BinDirectory";
    public const string SettingsConfigurationSection = "Database:Local:Settings";
    private const string DefaultBinDirectory = "/usr/lib/postgresql/15/bin";
    private const string ServiceUser = "postgres";

    /// <summary>
    /// Runs the machine's PostgreSQL as an executable resource: <c>initdb</c> into the run's state folder before the
    /// first start, then <c>postgres</c> on a free loopback port. PostgreSQL refuses to run as root, so as root both
    /// run as the <c>postgres</c> user through <c>setpriv</c>, which execs in place: the resource's process is the
    /// server, and Aspire's stop signal reaches it. Password authentication (scram-sha-256) with a generated secret,
    /// also over the loopback address; healthy once a real connection succeeds.
    /// </summary>
    public static IResourceBuilder<LocalPostgresServerResource> AddLocalPostgresServer(
        this IDistributedApplicationBuilder builder, string name)
    {
        var binDirectory = builder.Configuration[BinDirectoryConfigurationKey] is { Length: > 0 } configured
            ? configured
            : DefaultBinDirectory;
        var server = Path.Combine(binDirectory, "postgres");
        if (!File.Exists(server))
        {
            throw new DistributedApplicationException(
                $"{server} not found. Install Debian's postgresql package (scripts/setup.sh does), set " +
                $"{BinDirectoryConfigurationKey}, or choose another Database:Runtime (container, external).");
        }

        var settings = ServerSettings(builder.Configuration.GetSection(SettingsConfigurationSection));

        // Letters and digits only, so the password needs no quoting inside the connection string.
        var password = builder.AddParameter($"{name}-password",
            new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true);
        var stateDirectory = LocalState.For(builder).DirectoryFor(name);
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            // The server runs as postgres: it must pass through root's private run folders to its own.
            LocalState.For(builder).AllowTraversal();
        }

        var resource = new LocalPostgresServerResource(name, asRoot ? "setpriv" : server, stateDirectory, password.Resource);

        var healthCheckKey = $"{name}_ready";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey, _ => new PostgresReadyHealthCheck(resource), failureStatus: null, tags: null));

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(resource, async (_, cancellationToken) =>
            await InitializeDataDirectoryAsync(resource, binDirectory, asRoot, cancellationToken));

        return builder.AddResource(resource)
            // Not proxied: the server's own listener is what clients see. PGPORT is the server's default port.
            .WithEndpoint(name: LocalPostgresServerResource.EndpointName, scheme: "tcp", env: "PGPORT", isProxied: false)
            .WithArgs(asRoot ? ["--reuid=" + ServiceUser, "--regid=" + ServiceUser, "--init-groups", server] : [])
            .WithArgs("-D", resource.DataDirectory, "-c", "listen_addresses=127.0.0.1", "-k", stateDirectory,
                // Three Worker replicas with pooled connections, python-inference and the tests' own clients.
                "-c", "max_connections=300")
            .WithArgs(PostgresTuning.Arguments)
            // After the defaults, so that a setting of the configuration overrides one (the server takes the last).
            .WithArgs(settings.SelectMany(setting => new[] { "-c", $"{setting.Key}={setting.Value}" }).ToArray())
            .WithHealthCheck(healthCheckKey)
            .ExcludeFromManifest();
    }

    /// <summary>
    /// The server settings of <c>Database:Local:Settings</c> (e.g. <c>shared_preload_libraries</c> for a profile), each
    /// passed as <c>-c name=value</c>; a name PostgreSQL could not mean, or a value on several lines, stops the AppHost.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ServerSettings(IConfigurationSection section)
    {
        var settings = new List<KeyValuePair<string, string>>();
        foreach (var setting in section.GetChildren().OrderBy(child => child.Key, StringComparer.Ordinal))
        {
            if (setting.Key.Length == 0 || !setting.Key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.')
                || char.IsAsciiDigit(setting.Key[0]))
            {
                throw new DistributedApplicationException(
                    $"{SettingsConfigurationSection}:{setting.Key} is not a PostgreSQL setting's name.");
            }

            if (setting.Value is not { } value || value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                throw new DistributedApplicationException(
                    $"{SettingsConfigurationSection}:{setting.Key} needs a value on one line.");
            }

            settings.Add(new KeyValuePair<string, string>(setting.Key, value));
        }

        return settings;
    }

    /// <summary>
    /// A database on the local server, created by the service it is for when it starts.
    /// </summary>
    public static IResourceBuilder<LocalPostgresDatabaseResource> AddDatabase(
        this IResourceBuilder<LocalPostgresServerResource> server, string name, string? databaseName = null)
    {
        var database = new LocalPostgresDatabaseResource(name, databaseName ?? name, server.Resource);
        return server.ApplicationBuilder.AddResource(database).ExcludeFromManifest();
    }

    /// <summary>initdb, once per run folder, as the user the server will run as.</summary>
    private static async Task InitializeDataDirectoryAsync(LocalPostgresServerResource resource, string binDirectory,
        bool asRoot, CancellationToken cancellationToken)
    {
        if (File.Exists(Path.Combine(resource.DataDirectory, "PG_VERSION")))
        {
            return;
        }

        var passwordFile = Path.Combine(resource.StateDirectory, "initdb-password");
        await File.WriteAllTextAsync(passwordFile, await resource.Password.GetValueAsync(cancellationToken), cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        try
        {
            if (asRoot)
            {
                await RunAsync("chown", ["-R", $"{ServiceUser}:{ServiceUser}", resource.StateDirectory], cancellationToken);
            }

            string[] initdb = [Path.Combine(binDirectory, "initdb"), "-D", resource.DataDirectory,
                "-U", LocalPostgresServerResource.UserName, "--pwfile", passwordFile, "-A", "scram-sha-256",
                "-E", "UTF8", "--locale=C", "--no-instructions"];
            await (asRoot
                ? RunAsync("setpriv", ["--reuid=" + ServiceUser, "--regid=" + ServiceUser, "--init-groups", .. initdb], cancellationToken)
                : RunAsync(initdb[0], initdb[1..], cancellationToken));
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private static async Task RunAsync(string program, string[] arguments, CancellationToken cancellationToken)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new DistributedApplicationException($"{program} did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new DistributedApplicationException(
                $"{Path.GetFileName(arguments.Length > 3 && program == "setpriv" ? arguments[3] : program)} failed ({process.ExitCode}): {await errors}{await output}");
        }
    }
}
