using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace AppHost.Database;

/// <summary>Where the services keep their state (configuration key <c>Database:Provider</c>).</summary>
public enum DatabaseProvider
{
    /// <summary>SQLite files in the run's state folder: nothing to install, one machine.</summary>
    Sqlite,

    /// <summary>PostgreSQL: shared by every replica, on any machine.</summary>
    Postgres,
}

/// <summary>
/// The services' databases. With SQLite there is no server and the two are files; with PostgreSQL, the server
/// (<see cref="Server"/>, what the services wait for) and one database per service.
/// </summary>
public sealed record ServiceDatabases(
    DatabaseProvider Provider,
    IResourceBuilder<IResource>? Server,
    IResourceBuilder<IResourceWithConnectionString>? Worker,
    IResourceBuilder<IResourceWithConnectionString>? Analytics);

public static class DatabaseExtensions
{
    public const string ProviderConfigurationKey = "Database:Provider";
    public const string RuntimeConfigurationKey = "Database:Runtime";
    public const string ServerName = "postgres";
    public const string WorkerDatabaseName = "workerdb";
    public const string AnalyticsDatabaseName = "analyticsdb";

    /// <summary>
    /// The PostgreSQL image's tag, in a run's container and in every published deployment: 17, since the images of 18 on
    /// keep their data under <c>/var/lib/postgresql/18/docker</c>, not in <c>/var/lib/postgresql/data</c>, where the
    /// kustomize base mounts the volume (Aspire's own default is an 18).
    /// </summary>
    public const string ContainerImageTag = "17.6";

    /// <summary>
    /// Adds the databases the configuration asks for. PostgreSQL is a container, the machine's server or an external
    /// one (<c>Database:Runtime</c>, chosen like <c>Messaging:Runtime</c>). Published, it is always PostgreSQL (a
    /// deployment's Worker replicas run on more than one machine and share their jobs): a container, or an external
    /// server whose connection strings the deployment is given.
    /// </summary>
    public static ServiceDatabases AddServiceDatabases(this IDistributedApplicationBuilder builder)
    {
        var provider = ChooseProvider(builder);
        if (provider == DatabaseProvider.Sqlite)
        {
            Console.WriteLine("database: SQLite files in the run's state folder (Database:Provider=sqlite)");
            return new ServiceDatabases(provider, null, null, null);
        }

        var (runtime, reason) = ServiceRuntimes.Choose(builder, RuntimeConfigurationKey);
        Console.WriteLine($"database: PostgreSQL runtime '{runtime.ToString().ToLowerInvariant()}' ({reason})");
        switch (runtime)
        {
            case ServiceRuntime.Container:
                // The official image's entrypoint runs postgres with arguments that start with a dash.
                var container = builder.AddPostgres(ServerName).WithImageTag(ContainerImageTag).WithArgs(PostgresTuning.Arguments);
                return new ServiceDatabases(provider, null,
                    Erase(container.AddDatabase(WorkerDatabaseName)), Erase(container.AddDatabase(AnalyticsDatabaseName)));
            case ServiceRuntime.Local:
                var local = builder.AddLocalPostgresServer(ServerName);
                return new ServiceDatabases(provider, Erase(local),
                    Erase(local.AddDatabase(WorkerDatabaseName)), Erase(local.AddDatabase(AnalyticsDatabaseName)));
            case ServiceRuntime.External:
                return new ServiceDatabases(provider, null,
                    builder.AddConnectionString(WorkerDatabaseName), builder.AddConnectionString(AnalyticsDatabaseName));
            default:
                throw new InvalidOperationException($"Unknown database runtime {runtime}.");
        }
    }

    /// <summary>The Worker's jobs, outbox, registry and audit log: a SQLite file in the run's state folder, or <c>workerdb</c>.</summary>
    public static IResourceBuilder<ProjectResource> WithJobDatabase(
        this IResourceBuilder<ProjectResource> worker, ServiceDatabases databases)
    {
        if (databases.Worker is null)
        {
            if (worker.ApplicationBuilder.ExecutionContext.IsRunMode)
            {
                worker.WithEnvironment("Jobs__DatabasePath", Path.Combine(LocalState.For(worker.ApplicationBuilder).DirectoryFor(worker.Resource.Name), "jobs.db"));
            }

            return worker;
        }

        return worker.WithEnvironment("Database__Provider", "postgres").WithDatabaseReference(databases.Worker, databases);
    }

    /// <summary>python-inference's analytics: a SQLite file in the run's state folder, or <c>analyticsdb</c>.</summary>
    public static IResourceBuilder<T> WithAnalyticsDatabase<T>(this IResourceBuilder<T> inference, ServiceDatabases databases)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        if (databases.Analytics is null)
        {
            if (inference.ApplicationBuilder.ExecutionContext.IsRunMode)
            {
                inference.WithEnvironment("ANALYTICS_DB_PATH",
                    Path.Combine(LocalState.For(inference.ApplicationBuilder).DirectoryFor(inference.Resource.Name), "analytics.db"));
            }

            return inference;
        }

        return inference.WithEnvironment("Database__Provider", "postgres").WithDatabaseReference(databases.Analytics, databases);
    }

    private static IResourceBuilder<T> WithDatabaseReference<T>(this IResourceBuilder<T> service,
        IResourceBuilder<IResourceWithConnectionString> database, ServiceDatabases databases)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        service.WithReference(database);
        // On the local server, each service creates its database once the server answers: it waits for the server.
        return databases.Server is { } server ? service.WaitFor(server) : service.WaitFor(database);
    }

    private static IResourceBuilder<IResourceWithConnectionString> Erase<T>(IResourceBuilder<T> resource)
        where T : IResourceWithConnectionString =>
        resource.ApplicationBuilder.CreateResourceBuilder<IResourceWithConnectionString>(resource.Resource);

    private static IResourceBuilder<IResource> Erase(IResourceBuilder<LocalPostgresServerResource> resource) =>
        resource.ApplicationBuilder.CreateResourceBuilder<IResource>(resource.Resource);

    private static DatabaseProvider ChooseProvider(IDistributedApplicationBuilder builder)
    {
        var publishing = builder.ExecutionContext.IsPublishMode;
        var configured = builder.Configuration[ProviderConfigurationKey];
        if (string.IsNullOrWhiteSpace(configured))
        {
            return publishing ? DatabaseProvider.Postgres : DatabaseProvider.Sqlite;
        }

        if (!Enum.TryParse<DatabaseProvider>(configured, ignoreCase: true, out var chosen) || !Enum.IsDefined(chosen))
        {
            throw new DistributedApplicationException($"{ProviderConfigurationKey} is '{configured}'; expected sqlite or postgres.");
        }

        return chosen == DatabaseProvider.Sqlite && publishing
            ? throw new DistributedApplicationException(
                $"{ProviderConfigurationKey} is sqlite, which keeps the state in files of one machine; a published " +
                "deployment runs its Worker replicas on several, sharing PostgreSQL. Publish without " +
                $"{ProviderConfigurationKey} (or with postgres): PostgreSQL in a container, or with " +
                $"{RuntimeConfigurationKey}=external a server you run.")
            : chosen;
    }
}
