using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace AppHost.Database;

/// <summary>
/// Healthy once a real connection with the server's own credentials succeeds (the server's port opens before it takes
/// connections). The databases are not made here: each service creates its own, as in a deployment (docs/deployment.md,
/// "The services create their databases"), so every run on this runtime takes that path.
/// </summary>
internal sealed class PostgresReadyHealthCheck(LocalPostgresServerResource server) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var connectionString = await server.ConnectionStringExpression.GetValueAsync(cancellationToken);
            var builder = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Timeout = 2, Pooling = false };
            await using var connection = new NpgsqlConnection(builder.ToString());
            await connection.OpenAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("No connection to PostgreSQL yet.", exception);
        }
    }
}
