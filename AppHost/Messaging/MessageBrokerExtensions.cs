using Aspire.Hosting.ApplicationModel;
using AppHost.Operations;
using Microsoft.Extensions.Configuration;

namespace AppHost.Messaging;

/// <summary>Where the RabbitMQ broker comes from (configuration key <c>Messaging:Runtime</c>).</summary>
public enum MessageBrokerRuntime
{
    /// <summary>Aspire's RabbitMQ container with the management plugin.</summary>
    Container,

    /// <summary>The machine's own <c>rabbitmq-server</c>, run as an executable resource.</summary>
    Local,

    /// <summary>A broker someone else runs, given as <c>ConnectionStrings:{name}</c>.</summary>
    External,
}

public static class MessageBrokerExtensions
{
    public const string RuntimeConfigurationKey = "Messaging:Runtime";

    /// <summary>
    /// Adds the RabbitMQ broker under <paramref name="name"/>. Every runtime yields a resource with a connection
    /// string of the same name, so the services reference it the same way. Publish mode describes a containerised
    /// broker, or (external) only its connection string.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddMessageBroker(
        this IDistributedApplicationBuilder builder, string name)
    {
        var (runtime, reason) = ChooseRuntime(builder);
        Console.WriteLine($"messaging: RabbitMQ runtime '{runtime.ToString().ToLowerInvariant()}' ({reason})");

        return runtime switch
        {
            MessageBrokerRuntime.Container => builder.AddRabbitMQ(name).WithManagementPlugin()
                .WithManagementUiLink("management"),
            MessageBrokerRuntime.Local => builder.AddLocalRabbitMQServer(name),
            MessageBrokerRuntime.External => builder.AddConnectionString(name),
            _ => throw new InvalidOperationException($"Unknown broker runtime {runtime}."),
        };
    }

    private static (MessageBrokerRuntime Runtime, string Reason) ChooseRuntime(IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration[RuntimeConfigurationKey];
        if (builder.ExecutionContext.IsPublishMode)
        {
            // A deployment runs the broker as a container, unless it is told to use one run elsewhere.
            return string.Equals(configured, "external", StringComparison.OrdinalIgnoreCase)
                ? (MessageBrokerRuntime.External, "publish mode, external broker")
                : (MessageBrokerRuntime.Container, "publish mode");
        }

        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (!Enum.TryParse<MessageBrokerRuntime>(configured, ignoreCase: true, out var chosen)
                || !Enum.IsDefined(chosen))
            {
                throw new DistributedApplicationException(
                    $"{RuntimeConfigurationKey} is '{configured}'; expected container, local or external.");
            }

            return (chosen, $"{RuntimeConfigurationKey}={configured}");
        }

        var containerRuntime = builder.Configuration["ASPIRE_CONTAINER_RUNTIME"] ?? "docker";
        return ContainerRuntimeProbe.IsRunning(containerRuntime)
            ? (MessageBrokerRuntime.Container, $"{containerRuntime} is running")
            : (MessageBrokerRuntime.Local, $"no running {containerRuntime} found");
    }
}
