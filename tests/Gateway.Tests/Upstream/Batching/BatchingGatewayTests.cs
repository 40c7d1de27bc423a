using Gateway.Extensions;
using Gateway.Tests.Hosting;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Inference.Batching;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Gateway.Tests.Upstream.Batching;

/// <summary>The real gateway with its batcher in front of a scripted python-inference: one batch in flight, one caller queued.</summary>
public sealed class TinyQueueFactory : GatewayFactory
{
    public ScriptedInference Inference { get; } = new() { Gate = ScriptedInference.Closed() };

    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("Inference:Batching:MaxBatchSize", "1"),
        new("Inference:Batching:MaxConcurrentBatches", "1"),
        new("Inference:Batching:QueueLimit", "1"),
        new("Inference:Batching:RetryAfter", "00:00:03"),
    ];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<IInferenceClient>();
            services.AddKeyedSingleton<IInferenceClient>(UpstreamExtensions.InferenceTransportKey, Inference);
            services.AddTransient<IInferenceClient>(provider => new BatchingInferenceClient(
                provider.GetRequiredKeyedService<IInferenceClient>(UpstreamExtensions.InferenceTransportKey),
                provider.GetRequiredService<PredictionBatcher>()));
        });
    }
}

public sealed class BatchingGatewayTests(TinyQueueFactory factory) : IClassFixture<TinyQueueFactory>
{
    [Fact]
    public async Task A_full_queue_is_503_problem_with_retry_after_at_once_and_the_waiting_callers_are_answered()
    {
        var token = TestContext.Current.CancellationToken;
        using var client = factory.CreateAuthorizedClient();
        var inFlight = client.GetAsync("/predict?text=first", token);
        await factory.Inference.Called.Task.WaitAsync(token);
        var queued = client.GetAsync("/predict?text=second", token);
        await Task.Delay(200, token); // the second caller reaches the queue

        using var refused = await client.GetAsync("/predict?text=third", token).WaitAsync(TimeSpan.FromSeconds(10), token);

        var problem = await Problems.ReadProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "concurrency_limited");
        Assert.Equal(3, problem.GetProperty("retryAfter").GetInt32());
        Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);
        factory.Inference.Gate.SetResult();
        foreach (var answered in await Task.WhenAll(inFlight, queued))
        {
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }

        Assert.Equal([["first"], ["second"]], factory.Inference.Calls);
    }
}
