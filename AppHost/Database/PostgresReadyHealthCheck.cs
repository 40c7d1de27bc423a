using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace AppHost.Database;

/// <summary>
/// Healthy once a real connection with the server's own credentials succeeds and the run's databases exist: it
/// creates the missing ones, so whatever waits for the server finds its database there.
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
            foreach (var database in server.Databases)
            {
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
                exists.Parameters.AddWithValue("name", database.DatabaseName);
                if (await exists.ExecuteScalarAsync(cancellationToken) is null)
                {
                    // Names are ours (identifier-safe); CREATE DATABASE takes no parameters.
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.DatabaseName}\"", connection);
                    await create.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            return HealthCheckResult.Healthy();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("No connection to PostgreSQL yet.", exception);
        }
    }
}
