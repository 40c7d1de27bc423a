using Aspire.Hosting.ApplicationModel;

namespace AppHost.Messaging;

/// <summary>
/// The machine's <c>rabbitmq-server</c> as an executable resource: its own node name, ports and state folder per
/// run, bound to the IPv4 loopback address only.
/// </summary>
public sealed class LocalRabbitMQServerResource(
    string name, string command, string stateDirectory, ParameterResource userName, ParameterResource password)
    : ExecutableResource(name, command, stateDirectory), IResourceWithConnectionString
{
    internal const string AmqpEndpointName = "tcp";
    internal const string ManagementEndpointName = "management";
    internal const string DistributionEndpointName = "distribution";

    public string StateDirectory { get; } = stateDirectory;

    public ParameterResource UserName { get; } = userName;

    public ParameterResource Password { get; } = password;

    public EndpointReference AmqpEndpoint => new(this, AmqpEndpointName);

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"amqp://{UserName}:{Password}@127.0.0.1:{AmqpEndpoint.Property(EndpointProperty.Port)}");
}
