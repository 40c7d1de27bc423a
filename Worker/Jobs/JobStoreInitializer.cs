namespace Worker.Jobs;

/// <summary>Creates the job schema before the HTTP API or the consumer can touch it.</summary>
internal sealed class JobStoreInitializer(IJobStore store) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
