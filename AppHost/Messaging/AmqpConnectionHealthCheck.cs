using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using RabbitMQ.Client;

namespace AppHost.Messaging;

/// <summary>Healthy when an AMQP connection with the resource's own credentials opens: the port alone is not enough.</summary>
internal sealed class AmqpConnectionHealthCheck(IResourceWithConnectionString broker) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(
        HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var connectionString = await broker.ConnectionStringExpression.GetValueAsync(cancellationToken);
            var factory = new ConnectionFactory
            {
                Uri = new Uri(connectionString!),
                AutomaticRecoveryEnabled = false,
                RequestedConnectionTimeout = TimeSpan.FromSeconds(2),
            };
            await using var connection = await factory.CreateConnectionAsync("apphost-health", cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("No AMQP connection to the broker yet.", exception);
        }
    }
}
