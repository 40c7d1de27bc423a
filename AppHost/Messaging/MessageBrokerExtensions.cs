using Aspire.Hosting.ApplicationModel;
using AppHost.Operations;

namespace AppHost.Messaging;

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
        var (runtime, reason) = ServiceRuntimes.Choose(builder, RuntimeConfigurationKey);
        Console.WriteLine($"messaging: RabbitMQ runtime '{runtime.ToString().ToLowerInvariant()}' ({reason})");

        return runtime switch
        {
            ServiceRuntime.Container => builder.AddRabbitMQ(name).WithManagementPlugin()
                .WithManagementUiLink("management"),
            ServiceRuntime.Local => builder.AddLocalRabbitMQServer(name),
            ServiceRuntime.External => builder.AddConnectionString(name),
            _ => throw new InvalidOperationException($"Unknown broker runtime {runtime}."),
        };
    }
}
