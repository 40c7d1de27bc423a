using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Gateway.Upstream.Inference;

/// <summary>
/// python-inference's own gRPC health service (grpc.health.v1) for inference.v1.Inference, asked over the channel the
/// predictions use. Registered as Degraded on failure: the gateway still answers (with 503 problems) when it is down.
/// </summary>
internal sealed class GrpcInferenceHealthCheck(Health.HealthClient health, IOptions<InferenceOptions> options) : IHealthCheck
{
    public const string Name = "python-inference-grpc";
    public const string ServiceName = "inference.v1.Inference";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // The check runs every few seconds outside any request; its call is a probe, which is never traced.
        using var untraced = Telemetry.Untraced();
        try
        {
            var response = await health.CheckAsync(new HealthCheckRequest { Service = ServiceName },
                deadline: DateTime.UtcNow + options.Value.AttemptTimeout, cancellationToken: cancellationToken);
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving
                ? HealthCheckResult.Healthy()
                : new HealthCheckResult(context.Registration.FailureStatus, $"{ServiceName} is {response.Status}.");
        }
        catch (RpcException exception)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"{ServiceName} health check failed: {exception.StatusCode}.");
        }
    }
}
