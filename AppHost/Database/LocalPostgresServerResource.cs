using Aspire.Hosting.ApplicationModel;

namespace AppHost.Database;

/// <summary>
/// The machine's PostgreSQL server (Debian's postgresql-15) as an executable resource: its own data folder in the
/// run's state folder, a free port on the IPv4 loopback address, the superuser's password from a secret parameter.
/// </summary>
public sealed class LocalPostgresServerResource(
    string name, string command, string stateDirectory, ParameterResource password)
    : ExecutableResource(name, command, stateDirectory), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";
    internal const string UserName = "postgres";

    public string StateDirectory { get; } = stateDirectory;

    public string DataDirectory => Path.Combine(StateDirectory, "data");

    public ParameterResource Password { get; } = password;

    public EndpointReference Endpoint => new(this, EndpointName);

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host=127.0.0.1;Port={Endpoint.Property(EndpointProperty.Port)};Username={UserName};Password={Password}");
}

/// <summary>A database on <see cref="LocalPostgresServerResource"/>; its connection string names it.</summary>
public sealed class LocalPostgresDatabaseResource(string name, string databaseName, LocalPostgresServerResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresServerResource>, IResourceWithConnectionString
{
    public string DatabaseName { get; } = databaseName;

    public LocalPostgresServerResource Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Parent.ConnectionStringExpression};Database={DatabaseName}");
}
