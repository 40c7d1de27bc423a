using Microsoft.Extensions.Options;
using Worker.Messaging;
using Worker.Security;

namespace Worker.Admin;

/// <summary>
/// Pausing and resuming the <c>jobs</c> queue's consumption, for every replica: the switch lives in the database,
/// this replica applies it at once and every replica follows it within <see cref="FollowInterval"/> (a replica that
/// starts later starts paused). Paused, jobs are still accepted and wait in the queue.
/// </summary>
internal sealed partial class JobConsumption(
    QueueSwitchStore switches, JobConsumer consumer, AdminAudit audit, IOptions<MessagingOptions> options,
    ILogger<JobConsumption> logger) : BackgroundService
{
    public static readonly TimeSpan FollowInterval = TimeSpan.FromSeconds(1);

    // One read-and-apply at a time, so the follower never applies a state read before an operator's change.
    private readonly SemaphoreSlim _applying = new(1, 1);

    private string Queue => options.Value.JobsQueue;

    public Task<ConsumptionState> GetAsync(CancellationToken cancellationToken) => switches.GetAsync(Queue, cancellationToken);

    public async Task<ConsumptionState> SetAsync(bool paused, Caller caller, CancellationToken cancellationToken)
    {
        var actor = caller.Actor;
        ConsumptionState state;
        await _applying.WaitAsync(cancellationToken);
        try
        {
            state = await switches.SetAsync(Queue, paused, actor, cancellationToken);
            await consumer.SetPausedAsync(paused, cancellationToken);
        }
        finally
        {
            _applying.Release();
        }

        await audit.RecordAsync(paused ? AdminAudit.ConsumptionPaused : AdminAudit.ConsumptionResumed, caller, null,
            new { queue = Queue }, cancellationToken);
        LogSwitched(logger, Queue, paused ? "paused" : "resumed", actor);
        return state;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FollowInterval);
        do
        {
            await _applying.WaitAsync(stoppingToken);
            try
            {
                ConsumptionState state;
                using (Telemetry.Untraced()) // a read every second on every replica: not worth a trace each time
                {
                    state = await switches.GetAsync(Queue, stoppingToken);
                }

                await consumer.SetPausedAsync(state.Paused, stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogFollowFailed(logger, Queue, exception.Message);
            }
            finally
            {
                _applying.Release();
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override void Dispose()
    {
        _applying.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumption of {Queue} {Change} by {Actor}.")]
    private static partial void LogSwitched(ILogger logger, string queue, string change, string actor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot read whether {Queue} is paused: {Reason}")]
    private static partial void LogFollowFailed(ILogger logger, string queue, string reason);
}
