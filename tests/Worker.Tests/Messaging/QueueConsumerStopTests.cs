using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Worker.Messaging;
using Worker.Tests.Security;

namespace Worker.Tests.Messaging;

/// <summary>
/// A host may stop its consumers more than once: a test host stops from the factory and from the application's own
/// shutdown at the same time, and may dispose its container in between. Every stop after the first waits for the first.
/// </summary>
public sealed class QueueConsumerStopTests
{
    [Fact]
    public async Task Consumers_stop_once_and_a_stop_after_disposal_does_not_fail()
    {
        var token = TestContext.Current.CancellationToken;
        await using var worker = new CallerAuthenticationTests.WorkerHost();
        using var http = worker.Http(token: null); // starts the host (its broker address answers nobody)
        var consumers = worker.Services.GetServices<IHostedService>().OfType<QueueConsumer>().ToList();
        Assert.NotEmpty(consumers);

        foreach (var consumer in consumers)
        {
            await Task.WhenAll(consumer.StopAsync(token), consumer.StopAsync(token));
            consumer.Dispose();
            await consumer.StopAsync(token);
        }
    }
}
