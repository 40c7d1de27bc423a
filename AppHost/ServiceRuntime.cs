using AppHost.Messaging;
using Microsoft.Extensions.Configuration;

namespace AppHost;

/// <summary>
/// Where a service the stack depends on comes from: the broker (<c>Messaging:Runtime</c>) and PostgreSQL
/// (<c>Database:Runtime</c>).
/// </summary>
public enum ServiceRuntime
{
    /// <summary>Aspire's container of it (RabbitMQ with the management plugin; PostgreSQL).</summary>
    Container,

    /// <summary>The machine's own binaries (<c>rabbitmq-server</c>; PostgreSQL's), run as an executable resource.</summary>
    Local,

    /// <summary>One someone else runs, given as connection strings (<c>ConnectionStrings:&lt;name&gt;</c>).</summary>
    External,
}

internal static class ServiceRuntimes
{
    /// <summary>
    /// The runtime <paramref name="key"/> names (container, local or external; anything else stops the AppHost) or,
    /// unset, a container when a container runtime answers, else the machine's own. Published, a container unless it
    /// is external: the machine's binaries mean nothing to a deployment.
    /// </summary>
    public static (ServiceRuntime Runtime, string Reason) Choose(IDistributedApplicationBuilder builder, string key)
    {
        var configured = builder.Configuration[key];
        ServiceRuntime? chosen = null;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (!Enum.TryParse<ServiceRuntime>(configured, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
            {
                throw new DistributedApplicationException($"{key} is '{configured}'; expected container, local or external.");
            }

            chosen = parsed;
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            return chosen == ServiceRuntime.External
                ? (ServiceRuntime.External, $"publish mode, {key}=external")
                : (ServiceRuntime.Container, "publish mode");
        }

        if (chosen is { } runtime)
        {
            return (runtime, $"{key}={configured}");
        }

        var containerRuntime = builder.Configuration["ASPIRE_CONTAINER_RUNTIME"] ?? "docker";
        return ContainerRuntimeProbe.IsRunning(containerRuntime)
            ? (ServiceRuntime.Container, $"{containerRuntime} is running")
            : (ServiceRuntime.Local, $"no running {containerRuntime} found");
    }
}
