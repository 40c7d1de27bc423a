using System.Globalization;
using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using AppHost.Database;
using AppHost.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace AppHost.Tests;

/// <summary>
/// What a local run exposes on the machine: the broker's and PostgreSQL's listeners stay on loopback, and the run's
/// state (the Erlang cookie, generated passwords, the job database) is this user's alone. Read from the running stack.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LocalRuntimeTests(AppHostFixture stack)
{
    private static readonly UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly UnixFileMode PrivateFolder = PrivateFile | UnixFileMode.UserExecute;

    [Fact]
    public async Task The_brokers_distribution_listener_and_epmd_are_bound_to_loopback()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc/net/tcp");
        var broker = LocalResource<LocalRabbitMQServerResource>(stack);
        var distribution = broker.Annotations.OfType<EndpointAnnotation>()
            .Single(endpoint => endpoint.Name == "distribution").AllocatedEndpoint!.Port;
        var environment = await EnvironmentOf(broker);

        var addresses = Listeners.On(distribution);

        Assert.NotEmpty(addresses);
        Assert.All(addresses, address => Assert.True(IPAddress.IsLoopback(address), $"the distribution port listens on {address}"));
        // epmd is one per machine, started by the first Erlang node: this run's broker starts it on loopback only.
        Assert.Equal("127.0.0.1,::1", environment["ERL_EPMD_ADDRESS"]);
    }

    [Fact]
    public async Task The_runs_state_folders_and_the_job_database_are_private_to_this_user()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Unix file modes");
        var broker = LocalResource<LocalRabbitMQServerResource>(stack);
        var worker = stack.App.Services.GetRequiredService<DistributedApplicationModel>().Resources
            .OfType<ProjectResource>().Single(resource => resource.Name == "worker");
        var database = (await EnvironmentOf(worker))["Jobs__DatabasePath"];

        Assert.EndsWith($"aspire-ml-gateway-{Environment.UserName}", Path.GetDirectoryName(Path.GetDirectoryName(broker.StateDirectory)),
            StringComparison.Ordinal);
        Assert.Equal(PrivateFolder, File.GetUnixFileMode(broker.StateDirectory));
        Assert.Equal(PrivateFolder, File.GetUnixFileMode(Path.GetDirectoryName(database)!));
        Assert.Equal(PrivateFile, File.GetUnixFileMode(database));
    }

    // The environment as the resource is started with it (obsolete in Aspire 13 for ExecutionConfigurationBuilder,
    // which needs far more ceremony for reading one variable).
#pragma warning disable CS0618
    internal static ValueTask<Dictionary<string, string>> EnvironmentOf(IResourceWithEnvironment resource) =>
        resource.GetEnvironmentVariableValuesAsync(DistributedApplicationOperation.Run);
#pragma warning restore CS0618

    internal static T LocalResource<T>(AppHostFixture stack) where T : IResource =>
        stack.App.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<T>().Single();
}

/// <summary>The same for the local PostgreSQL of the PostgreSQL stack.</summary>
[Collection(nameof(PostgresCollection))]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LocalPostgresRuntimeTests(PostgresStackFixture stack)
{
    [Fact]
    public void The_local_postgresql_listens_on_loopback_only()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc/net/tcp");
        var server = LocalRuntimeTests.LocalResource<LocalPostgresServerResource>(stack);
        var port = server.Annotations.OfType<EndpointAnnotation>().Single().AllocatedEndpoint!.Port;

        var addresses = Listeners.On(port);

        Assert.NotEmpty(addresses);
        Assert.All(addresses, address => Assert.True(IPAddress.IsLoopback(address), $"PostgreSQL listens on {address}"));
    }
}

/// <summary>The addresses TCP sockets listen on for a port, from the kernel's tables.</summary>
internal static class Listeners
{
    private const string Listen = "0A";

    public static IReadOnlyList<IPAddress> On(int port) =>
        [.. Read("/proc/net/tcp", port), .. Read("/proc/net/tcp6", port)];

    private static IEnumerable<IPAddress> Read(string table, int port) =>
        !File.Exists(table) ? [] : File.ReadLines(table).Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[3] == Listen)
            .Select(fields => fields[1].Split(':'))
            .Where(local => int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
            .Select(local => Address(local[0]));

    // The kernel prints each 32-bit word of the address in host (little-endian) order.
    private static IPAddress Address(string hex) => new([.. Enumerable.Range(0, hex.Length / 8)
        .SelectMany(word => Convert.FromHexString(hex.AsSpan(word * 8, 8)).Reverse())]);
}
