using Microsoft.Extensions.Diagnostics.HealthChecks;
using Worker.Messaging;

namespace Worker.Health;

/// <summary>
/// Unhealthy until every queue consumer has declared what it owns on the broker. A Worker whose broker connection opens
/// is not yet ready for submissions: on a broker that has never seen a Worker, the jobs queue does not exist until
/// <see cref="JobConsumer"/> declares it, and a job published before then comes back unroutable, so its submission is
/// refused with 503 <c>broker_unavailable</c>. A consumer that cannot subscribe yet retries on a back-off of up to 5 s,
/// which is how far a Worker that reported healthy could be from taking a job.
/// </summary>
internal sealed class ConsumersHealthCheck(IEnumerable<IHostedService> services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var waiting = services.OfType<QueueConsumer>().Where(consumer => !consumer.HasDeclaredTopology)
            .Select(consumer => consumer.Name).ToList();
        return Task.FromResult(waiting.Count == 0
            ? HealthCheckResult.Healthy()
            : new HealthCheckResult(context.Registration.FailureStatus,
                $"Not yet subscribed (queues not yet declared): {string.Join(", ", waiting)}."));
    }
}
