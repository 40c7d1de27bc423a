using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AppHost;

/// <summary>
/// Healthy when a resource's gRPC endpoint answers the standard <c>grpc.health.v1</c> check with SERVING for
/// <see cref="Service"/>: the HTTP <c>/health</c> of the same process says nothing about its HTTP/2 listener.
/// </summary>
internal sealed class GrpcHealthCheck(EndpointReference endpoint, string service) : IHealthCheck
{
    public string Service => service;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!endpoint.IsAllocated)
        {
            return HealthCheckResult.Unhealthy("The gRPC endpoint has no address yet.");
        }

        try
        {
            using var channel = GrpcChannel.ForAddress(endpoint.Url);
            var response = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest { Service = service },
                deadline: DateTime.UtcNow.AddSeconds(3), cancellationToken: cancellationToken);
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"grpc.health.v1 says {response.Status} for '{service}'.");
        }
        catch (Grpc.Core.RpcException exception)
        {
            return HealthCheckResult.Unhealthy($"grpc.health.v1 did not answer: {exception.Status.StatusCode}.", exception);
        }
    }
}

public static class GrpcHealthCheckExtensions
{
    /// <summary>The resource is healthy only when its <c>grpc</c> endpoint reports <paramref name="service"/> as SERVING.</summary>
    public static IResourceBuilder<T> WithGrpcHealthCheck<T>(this IResourceBuilder<T> resource, string service, string endpointName = "grpc")
        where T : IResourceWithEndpoints
    {
        var key = $"{resource.Resource.Name}_grpc_health";
        var check = new GrpcHealthCheck(resource.GetEndpoint(endpointName), service);
        resource.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(key, _ => check, failureStatus: null, tags: null));
        return resource.WithHealthCheck(key);
    }
}
