using Aspire.Hosting.ApplicationModel;
using AppHost.Operations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AppHost.Messaging;

public static class LocalRabbitMQServerExtensions
{
    public const string ServerPathConfigurationKey = "Messaging:Local:ServerPath";
    private const string DefaultServerPath = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    /// <summary>The Erlang argument that binds the node's distribution listener to loopback.</summary>
    public const string DistributionOnLoopback = "-kernel inet_dist_use_interface {127,0,0,1}";

    /// <summary>
    /// Runs the machine's RabbitMQ (Debian's <c>rabbitmq-server</c> package) as an executable resource. It is
    /// healthy only once a real AMQP connection succeeds, and logs to the dashboard.
    /// </summary>
    public static IResourceBuilder<LocalRabbitMQServerResource> AddLocalRabbitMQServer(
        this IDistributedApplicationBuilder builder, string name)
    {
        // The /usr/sbin wrapper switches to the rabbitmq user; the script below it runs as the current user.
        var serverPath = builder.Configuration[ServerPathConfigurationKey] is { Length: > 0 } configured
            ? configured
            : DefaultServerPath;
        if (!File.Exists(serverPath))
        {
            throw new DistributedApplicationException(
                $"{serverPath} not found. Install Debian's rabbitmq-server package (./run.sh does), set " +
                $"{ServerPathConfigurationKey}, or choose another Messaging:Runtime (container, external).");
        }

        var userName = builder.AddParameter($"{name}-username", "aspire");
        // Letters and digits only, so the password needs no escaping inside the amqp:// URI.
        var password = builder.AddParameter($"{name}-password",
            new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true);
        var stateDirectory = LocalState.For(builder).DirectoryFor(name);
        var resource = new LocalRabbitMQServerResource(
            name, serverPath, stateDirectory, userName.Resource, password.Resource);

        var healthCheckKey = $"{name}_amqp";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey, _ => new AmqpConnectionHealthCheck(resource), failureStatus: null, tags: null));

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(resource, async (_, cancellationToken) =>
            await WriteServerFilesAsync(resource, cancellationToken));

        var management = resource.GetEndpoint(LocalRabbitMQServerResource.ManagementEndpointName);
        var nodeName = $"rabbit-{LocalState.For(builder).RunId}@localhost";

        return builder.AddResource(resource)
            // Not proxied: the broker's own listener is what clients see, so "broker down" means refused
            // connections, exactly as in production.
            .WithEndpoint(name: LocalRabbitMQServerResource.AmqpEndpointName, scheme: "tcp",
                env: "RABBITMQ_NODE_PORT", isProxied: false)
            .WithEndpoint(name: LocalRabbitMQServerResource.DistributionEndpointName, scheme: "tcp",
                env: "RABBITMQ_DIST_PORT", isProxied: false)
            .WithHttpEndpoint(name: LocalRabbitMQServerResource.ManagementEndpointName, isProxied: false)
            .WithManagementUiLink(LocalRabbitMQServerResource.ManagementEndpointName)
            .WithEnvironment("RABBITMQ_NODENAME", nodeName)
            .WithEnvironment("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            // epmd (the Erlang port mapper, started by the first node and left running) on loopback only; an epmd that
            // is already running keeps the addresses it started with (docs/security.md).
            .WithEnvironment("ERL_EPMD_ADDRESS", "127.0.0.1,::1")
            .WithEnvironment("HOME", stateDirectory) // the Erlang cookie lives here
            .WithEnvironment("RABBITMQ_CONF_ENV_FILE", Path.Combine(stateDirectory, "rabbitmq-env.conf"))
            .WithEnvironment("RABBITMQ_CONFIG_FILE", Path.Combine(stateDirectory, "rabbitmq.conf"))
            .WithEnvironment("RABBITMQ_ADVANCED_CONFIG_FILE", Path.Combine(stateDirectory, "advanced.config"))
            .WithEnvironment("RABBITMQ_ENABLED_PLUGINS_FILE", Path.Combine(stateDirectory, "enabled_plugins"))
            .WithEnvironment("RABBITMQ_MNESIA_BASE", Path.Combine(stateDirectory, "mnesia"))
            .WithEnvironment("RABBITMQ_LOG_BASE", Path.Combine(stateDirectory, "log"))
            .WithEnvironment("RABBITMQ_PID_FILE", Path.Combine(stateDirectory, "rabbitmq.pid"))
            .WithEnvironment("RABBITMQ_LOGS", "-")
            // The management listener's port is only known once allocated, so it travels as an Erlang
            // application parameter (the server script disables globbing, so the brackets are safe). The
            // distribution listener (RABBITMQ_DIST_PORT) binds to loopback too, not every interface.
            .WithEnvironment("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", ReferenceExpression.Create(
                $"-rabbitmq_management tcp_config [{{ip,\"127.0.0.1\"}},{{port,{management.Property(EndpointProperty.TargetPort)}}}] {DistributionOnLoopback}"))
            .WithHealthCheck(healthCheckKey)
            .ExcludeFromManifest();
    }

    /// <summary>Writes the config (with the generated credentials) and plugin list just before each start.</summary>
    private static async Task WriteServerFilesAsync(
        LocalRabbitMQServerResource resource, CancellationToken cancellationToken)
    {
        var userName = await resource.UserName.GetValueAsync(cancellationToken);
        var password = await resource.Password.GetValueAsync(cancellationToken);
        var configPath = Path.Combine(resource.StateDirectory, "rabbitmq.conf");
        await File.WriteAllTextAsync(configPath,
            $"""
             default_user = {userName}
             default_pass = {password}
             loopback_users = none
             """, cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(configPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        await File.WriteAllTextAsync(Path.Combine(resource.StateDirectory, "enabled_plugins"),
            "[rabbitmq_management].", cancellationToken);
    }
}
