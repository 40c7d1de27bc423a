using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Grpc.Health.V1;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Worker.Health;

/// <summary>
/// The standard <c>grpc.health.v1.Health</c> on the Worker's gRPC endpoint, answering from the same health checks
/// as <c>/health</c>: a gRPC caller (python-inference registering its models) can ask the way gRPC tools do.
/// The empty service name is the whole Worker; <c>registry.v1.ModelRegistry</c> is served whenever the Worker is.
/// </summary>
[AllowAnonymous] // probes carry no credentials
internal sealed class GrpcHealthService(HealthCheckService health) : Grpc.Health.V1.Health.HealthBase
{
    private static readonly HashSet<string> Services = [string.Empty, "registry.v1.ModelRegistry"];

    public override async Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (!Services.Contains(request.Service))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Unknown service '{request.Service}'."));
        }

        var report = await health.CheckHealthAsync(context.CancellationToken);
        return new HealthCheckResponse
        {
            Status = report.Status == HealthStatus.Unhealthy
                ? HealthCheckResponse.Types.ServingStatus.NotServing
                : HealthCheckResponse.Types.ServingStatus.Serving,
        };
    }
}
