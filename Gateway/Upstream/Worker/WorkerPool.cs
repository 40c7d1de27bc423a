using System.ComponentModel.DataAnnotations;
using Gateway.Application;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Gateway.Upstream.Worker;

/// <summary>How the gateway calls the Worker pool, for jobs and the model registry (section <c>WorkerCalls</c>).</summary>
public sealed class WorkerCallOptions
{
    public const string SectionName = "WorkerCalls";

    /// <summary>
    /// One attempt. Longer than the Worker's own <c>Messaging:PublishTimeout</c>, so a slow broker confirm is answered
    /// by the Worker (503 <c>broker_unavailable</c>, the job withdrawn) rather than cut off here.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Range(0, 10)]
    public int MaxRetryAttempts { get; set; } = 3;

    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// The resilience of calls to the Worker, which runs as a pool of replicas behind one address (Aspire's proxy locally,
/// a Service in Kubernetes).
/// <list type="bullet">
/// <item>A call whose connection failed or broke (a replica died under it) is retried after a short delay, and the
/// pool sends the retry to a live replica. Every call is safe to repeat: reads, activations (which set a state), and
/// job submissions, which always carry an idempotency key (<c>HttpJobsClient</c>), so a submission the dead replica
/// had already stored comes back as the same job. An answer that broke off after its headers is such a call too: each
/// attempt reads its answer whole (<see cref="WholeAnswerHandler"/>).</item>
/// <item>An answer, even 503 <c>broker_unavailable</c>, is never retried: the Worker has decided. Nor is a timeout,
/// after which the first attempt may still be running.</item>
/// <item>No circuit breaker: one breaker for a pool address opens when one replica of two dies, and then refuses
/// the live one too.</item>
/// </list>
/// </summary>
public static class WorkerPool
{
    /// <summary>The pool's resilience handler on a client, configured by <see cref="WorkerCallOptions"/>.</summary>
    public static IHttpClientBuilder AddWorkerPoolResilience(this IHttpClientBuilder builder)
    {
        builder.AddResilienceHandler("worker-pool", (pipeline, context) =>
            {
                var settings = context.ServiceProvider.GetRequiredService<IOptions<WorkerCallOptions>>().Value;
                pipeline
                    .AddTimeout(settings.TotalTimeout)
                    .AddRetry(new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = Math.Max(settings.MaxRetryAttempts, 1),
                        Delay = settings.RetryBaseDelay,
                        BackoffType = DelayBackoffType.Exponential,
                        UseJitter = true,
                        ShouldHandle = args => ValueTask.FromResult(
                            settings.MaxRetryAttempts > 0 && args.Outcome.Exception is HttpRequestException),
                    })
                    .AddTimeout(settings.AttemptTimeout);
            });
        // Inside the attempts: each one's answer is read whole within it.
        builder.AddHttpMessageHandler(() => new WholeAnswerHandler());
        return builder;
    }
}
