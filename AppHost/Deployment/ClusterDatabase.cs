using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace AppHost.Deployment;

/// <summary>
/// The cluster runs on PostgreSQL: the server <c>postgres</c> with the databases <c>workerdb</c> (the Worker) and
/// <c>analyticsdb</c> (python-inference's analytics). When the application model has the server (Database:Provider
/// postgres), its resources and references are used as they are; when it has none, the server and the connection
/// strings are added here with the same names, so the base is the same either way. <c>Database:Runtime=external</c>
/// leaves the server out: each connection string is then a Secret key the operator fills.
/// </summary>
internal sealed class ClusterDatabase(IConfiguration configuration)
{
    public const string ServerName = "postgres";
    public const string EndpointName = "tcp";
    public const int Port = 5432;
    public const string Image = "docker.io/library/postgres:17.6";
    public const string InitScriptsPath = "/docker-entrypoint-initdb.d";

    /// <summary>Which service uses which database (the names agreed with the AppHost's database switch).</summary>
    public static readonly IReadOnlyDictionary<string, string> Consumers = new Dictionary<string, string>
    {
        ["worker"] = "workerdb",
        ["python-inference"] = "analyticsdb",
    };

    private readonly ParameterResource _password = new($"{ServerName}-password", _ => "", secret: true);

    public bool External => string.Equals(configuration["Database:Runtime"], "external", StringComparison.OrdinalIgnoreCase);

    public void AddServerWhenMissing(ClusterModel cluster, DistributedApplicationModel model)
    {
        if (External)
        {
            // No server in the cluster: its folder holds only the Secret with the connection strings.
            cluster.Workloads.RemoveAll(workload => workload.Name == ServerName);
            var external = new Workload(ServerName, stateful: false) { Image = "", External = true, Resources = ResourceProfiles.DataService };
            external.Ports.AddRange(DataServices.ExternalPortsFor(ServerName));
            cluster.Workloads.Add(external);
            return;
        }

        var server = cluster.Find(ServerName);
        if (server is null)
        {
            server = new Workload(ServerName, stateful: true)
            {
                Image = Image, RunAsUser = ClusterModelReader.DataServiceUser,
                DataPath = DataServices.DataPathFor(Image), Resources = ResourceProfiles.DataService,
            };
            server.Ports.Add(new ClusterPort(EndpointName, Port, "tcp", Http2: false));
            server.Settings["POSTGRES_USER"] = "postgres";
            server.Settings["POSTGRES_HOST_AUTH_METHOD"] = "scram-sha-256";
            server.Settings["POSTGRES_INITDB_ARGS"] = "--auth-host=scram-sha-256 --auth-local=scram-sha-256";
            foreach (var key in server.Settings.Keys)
            {
                server.Env.Add(new ClusterEnvVar(key, ConfigKey: key, ConfigMapName: ClusterNames.Config(ServerName)));
            }

            cluster.Workloads.Add(server);
        }

        // The server's settings as arguments: the image's entrypoint runs postgres with arguments that start with a dash.
        if (server.Args.Count == 0)
        {
            server.Args.AddRange(AppHost.Database.PostgresTuning.Arguments);
        }

        // The image creates one database from POSTGRES_DB; the others come from an init script, run on first start.
        var databases = model.Resources.OfType<IResourceWithParent>()
            .Where(resource => resource.Parent.Name == ServerName)
            .Select(resource => resource.GetType().GetProperty("DatabaseName")?.GetValue(resource) as string ?? resource.Name)
            .Concat(Consumers.Values)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal);
        server.ConfigFiles[InitScriptsPath] = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["create-databases.sql"] = string.Concat(databases.Select(name => $"CREATE DATABASE \"{name}\";\n")),
        };
    }

    /// <summary>Points the Worker and python-inference at their databases (unless the model's references already do).</summary>
    public void ConnectConsumers(ClusterModel cluster, ClusterModelReader reader)
    {
        foreach (var (name, database) in Consumers)
        {
            if (cluster.Find(name) is not { } consumer)
            {
                continue;
            }

            reader.SetVariable(consumer, "Database__Provider", "postgres", new RenderScope(consumer));
            var variable = $"ConnectionStrings__{database}";
            if (consumer.Env.Any(env => env.Name == variable))
            {
                continue;
            }

            var scope = new RenderScope(consumer);
            if (External)
            {
                var connectionString = new ParameterResource(database, _ => "", secret: true);
                reader.ClaimSecrets(connectionString, ServerName);
                scope.Secrets.Add(connectionString);
                reader.SetVariable(consumer, variable, $"$({ClusterModelReader.HelperVariable(connectionString)})", scope);
                ClusterModelReader.AddEdge(cluster, name, ServerName, ClusterModelReader.ExternalEndpoint);
                continue;
            }

            var server = cluster[ServerName];
            if (!server.Env.Any(env => env.Name == "POSTGRES_PASSWORD"))
            {
                server.Env.Add(new ClusterEnvVar("POSTGRES_PASSWORD", Secret: reader.SecretFor(server, _password)));
            }

            scope.Secrets.Add(_password);
            var port = server.Port(EndpointName);
            reader.SetVariable(consumer, variable,
                $"Host={ClusterNames.Service(ServerName)};Port={port.Number};Username=postgres;" +
                $"Password=$({ClusterModelReader.HelperVariable(_password)});Database={database}", scope);
            ClusterModelReader.AddEdge(cluster, name, ServerName, port.Name);
        }
    }
}

internal static class DataServices
{
    /// <summary>The ports an external broker or database listens on (egress to any address on them is allowed).</summary>
    public static IEnumerable<ClusterPort> ExternalPortsFor(string name) => name switch
    {
        "messaging" => [new ClusterPort("amqp", 5672, "tcp", false), new ClusterPort("amqps", 5671, "tcp", false)],
        "postgres" or "workerdb" or "analyticsdb" => [new ClusterPort("postgres", 5432, "tcp", false)],
        _ => [],
    };

    /// <summary>Where the official images keep their data: the volume claim's mount path.</summary>
    public static string DataPathFor(string image) =>
        image.Contains("postgres", StringComparison.OrdinalIgnoreCase) ? "/var/lib/postgresql/data"
        : image.Contains("rabbitmq", StringComparison.OrdinalIgnoreCase) ? "/var/lib/rabbitmq"
        : "/data";
}
