using Aspire.Hosting.ApplicationModel;

namespace AppHost.Deployment;

/// <summary>
/// The cluster runs on PostgreSQL, since publish mode always describes it (AppHost/Database/DatabaseExtensions.cs): the
/// server <c>postgres</c> with the databases <c>workerdb</c> (the Worker) and <c>analyticsdb</c> (python-inference's
/// analytics), each service's reference to its database a connection string like any other. What the cluster model
/// does not read from it is added here: the server's settings, as arguments (the reader takes no container's
/// arguments; the image's entrypoint hands those that start with a dash to postgres); and the databases, since the
/// official image creates one (<c>POSTGRES_DB</c>), so the others come from an init script, run on the server's first
/// start. With <c>Database:Runtime=external</c> the model has no server, only the two connection strings, each a
/// Secret the operator fills; nothing is added.
/// </summary>
internal static class ClusterDatabase
{
    private const string ServerName = AppHost.Database.DatabaseExtensions.ServerName;
    public const string InitScriptsPath = "/docker-entrypoint-initdb.d";

    public static void Complete(ClusterModel cluster, DistributedApplicationModel model)
    {
        if (cluster.Find(ServerName) is not { External: false } server)
        {
            return;
        }

        server.Args.AddRange(AppHost.Database.PostgresTuning.Arguments);

        var databases = model.Resources.OfType<IResourceWithParent>()
            .Where(resource => resource.Parent.Name == ServerName)
            .Select(resource => resource.GetType().GetProperty("DatabaseName")?.GetValue(resource) as string ?? resource.Name)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal);
        server.ConfigFiles[InitScriptsPath] = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["create-databases.sql"] = string.Concat(databases.Select(name => $"CREATE DATABASE \"{name}\";\n")),
        };
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
