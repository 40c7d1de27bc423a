using Aspire.Hosting.ApplicationModel;

namespace AppHost.Deployment;

/// <summary>
/// The cluster runs on PostgreSQL, since publish mode always describes it (AppHost/Database/DatabaseExtensions.cs): the
/// server <c>postgres</c> with the databases <c>workerdb</c> (the Worker) and <c>analyticsdb</c> (python-inference's
/// analytics), each service's reference to its database a connection string like any other. Each service creates its
/// database when it starts and finds none, as on any server (docs/deployment.md). Added here is what the cluster
/// reader does not take from the model: the server's settings, as arguments (the reader takes no container's
/// arguments; the image's entrypoint hands those that start with a dash to postgres). With <c>Database:Runtime=external</c> the model
/// has no server, only the two connection strings, each a Secret the operator fills; nothing is added.
/// </summary>
internal static class ClusterDatabase
{
    private const string ServerName = AppHost.Database.DatabaseExtensions.ServerName;

    public static void Complete(ClusterModel cluster)
    {
        if (cluster.Find(ServerName) is { External: false } server)
        {
            server.Args.AddRange(AppHost.Database.PostgresTuning.Arguments);
        }
    }
}

internal static class DataServices
{
    /// <summary>The ports an external broker or database listens on (egress to any address on them is allowed).</summary>
    public static IEnumerable<ClusterPort> ExternalPortsFor(string name) => name switch
    {
        "messaging" => [new ClusterPort("amqp", 5672, "tcp", false), new ClusterPort("amqps", 5671, "tcp", false)],
        "workerdb" or "analyticsdb" => [new ClusterPort("postgres", 5432, "tcp", false)],
        _ => [],
    };

    /// <summary>Where the official images keep their data: the volume claim's mount path.</summary>
    public static string DataPathFor(string image) =>
        image.Contains("postgres", StringComparison.OrdinalIgnoreCase) ? "/var/lib/postgresql/data"
        : image.Contains("rabbitmq", StringComparison.OrdinalIgnoreCase) ? "/var/lib/rabbitmq"
        : "/data";
}
