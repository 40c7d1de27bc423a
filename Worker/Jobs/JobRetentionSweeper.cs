using Microsoft.Extensions.Options;

namespace Worker.Jobs;

/// <summary>
/// Deletes finished jobs older than <see cref="JobsOptions.Retention"/>, with their audit rows, a bounded batch per
/// transaction (<see cref="JobsOptions.RetentionBatchSize"/>). Every replica runs one; their batches never overlap
/// (the store locks a batch, PostgreSQL's sweepers skip each other's rows), so more replicas only sweep sooner.
/// A purged job's idempotency key goes with it: the same key afterwards creates a new job.
/// </summary>
internal sealed partial class JobRetentionSweeper(
    IJobStore store, IOptions<JobsOptions> options, TimeProvider clock, ILogger<JobRetentionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        // Replicas started together sweep at different moments.
        var wait = settings.RetentionSweepInterval * Random.Shared.NextDouble();
        while (true)
        {
            try
            {
                await Task.Delay(wait, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            wait = settings.RetentionSweepInterval;
            try
            {
                var purged = await SweepAsync(stoppingToken);
                if (purged > 0)
                {
                    LogPurged(logger, purged, settings.Retention);
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogSweepFailed(logger, exception);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One sweep: batches until a batch comes back short. Returns how many jobs were purged.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var cutoff = clock.GetUtcNow() - settings.Retention;
        var total = 0;
        int purged;
        do
        {
            purged = await store.PurgeFinishedAsync(cutoff, settings.RetentionBatchSize, cancellationToken);
            total += purged;
        }
        while (purged == settings.RetentionBatchSize);

        return total;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: purged {Count} jobs finished more than {Retention} ago.")]
    private static partial void LogPurged(ILogger logger, int count, TimeSpan retention);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention sweep failed; the next sweep tries again.")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
