using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AppHost.Tests;

/// <summary>
/// Webhooks per owner, end to end: each owner fetches its signing key through the gateway, its receiver verifies its
/// own deliveries with it and another owner's key does not; a receiver that hangs does not hold up anyone else's.
/// </summary>
public sealed class WebhookIsolationTests(AppHostFixture stack)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    private HttpClient ClientFor(string subject) => stack.CreateGatewayClient(stack.Tokens.Create(subject: subject, scopes: "jobs"));

    private static async Task<Guid> SubmitAsync(HttpClient client, Uri callback, string text, CancellationToken cancellationToken)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/jobs",
            new { model = "sentiment", inputs = new[] { text }, callbackUrl = callback.ToString() }, cancellationToken);
        await Problems.AssertStatusAsync(response, HttpStatusCode.Accepted);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetGuid();
    }

    [Fact]
    public async Task Each_owners_receiver_verifies_its_deliveries_with_its_own_key_and_not_with_the_other_owners()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Bound);
        using var alice = ClientFor($"alice-{Guid.NewGuid():N}");
        using var bob = ClientFor($"bob-{Guid.NewGuid():N}");
        var aliceKey = await SigningKeys.ForOwnerAsync(alice, timeout.Token);
        var bobKey = await SigningKeys.ForOwnerAsync(bob, timeout.Token);
        Assert.NotEqual(aliceKey, bobKey);
        Assert.Equal(aliceKey, await SigningKeys.ForOwnerAsync(alice, timeout.Token));
        var deploymentSecret = await stack.ParameterValueAsync("webhook-signing-secret", timeout.Token);
        await using var aliceReceiver = await Receiver.StartAsync();
        await using var bobReceiver = await Receiver.StartAsync();

        var aliceJob = await SubmitAsync(alice, aliceReceiver.Url, "Wonderful staff and a spotless room.", timeout.Token);
        var bobJob = await SubmitAsync(bob, bobReceiver.Url, "Cold food and a rude waiter.", timeout.Token);

        var toAlice = await aliceReceiver.WaitForJobAsync(aliceJob, timeout.Token);
        var toBob = await bobReceiver.WaitForJobAsync(bobJob, timeout.Token);
        Assert.True(toAlice.VerifiesWith(aliceKey), "alice's delivery does not verify with alice's key");
        Assert.False(toAlice.VerifiesWith(bobKey), "alice's delivery verifies with bob's key");
        Assert.True(toBob.VerifiesWith(bobKey), "bob's delivery does not verify with bob's key");
        Assert.False(toBob.VerifiesWith(aliceKey), "bob's delivery verifies with alice's key");
        Assert.False(toAlice.VerifiesWith(deploymentSecret) || toBob.VerifiesWith(deploymentSecret),
            "a delivery verifies with the deployment secret");
        Assert.DoesNotContain(aliceReceiver.Deliveries, d => d.JobId == bobJob);
    }

    [Fact]
    public async Task A_receiver_that_hangs_does_not_delay_another_owners_delivery()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Bound);
        using var alice = ClientFor($"alice-{Guid.NewGuid():N}");
        using var mallory = ClientFor($"mallory-{Guid.NewGuid():N}");
        var malloryKey = await SigningKeys.ForOwnerAsync(mallory, timeout.Token);
        await using var aliceReceiver = await Receiver.StartAsync();
        await using var hanging = await Receiver.StartAsync(hang: true);

        // More deliveries than both Worker replicas have webhook slots (2 × 4): before per-host caps and delay
        // queues, every slot would sit on this receiver for the whole attempt timeout (10 s), and retries after.
        for (var i = 0; i < 10; i++)
        {
            await SubmitAsync(mallory, hanging.Url, $"Fine {i}", timeout.Token);
        }

        await hanging.WaitForOpenRequestsAsync(2, timeout.Token);
        var started = Stopwatch.StartNew();
        var aliceJob = await SubmitAsync(alice, aliceReceiver.Url, "Wonderful staff and a spotless room.", timeout.Token);
        var delivered = await aliceReceiver.WaitForJobAsync(aliceJob, timeout.Token);
        var took = started.Elapsed;

        Assert.True(took < TimeSpan.FromSeconds(6), $"alice's webhook took {took.TotalSeconds:0.0} s behind the hanging receiver");
        Assert.True(delivered.VerifiesWith(await SigningKeys.ForOwnerAsync(alice, timeout.Token)));
        Assert.True(hanging.OpenRequests > 0, "the hanging receiver was released before alice's delivery arrived");
        Assert.All(hanging.Deliveries, d => Assert.True(d.VerifiesWith(malloryKey)));
    }

    /// <summary>A receiver on loopback that records each request (verifying is the test's, with whichever key) and
    /// answers 204, or holds every request open until it is disposed and then answers 500.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _open;

        private Receiver(WebApplication app) => _app = app;

        public sealed record Delivery(string Id, string Timestamp, string Signature, byte[] Body, Guid JobId)
        {
            public bool VerifiesWith(string key) => WebhookReceiver.Verifies(key, Id, Timestamp, Signature, Body);
        }

        public ConcurrentQueue<Delivery> Deliveries { get; } = new();

        public Uri Url { get; private set; } = null!;

        public int OpenRequests => Volatile.Read(ref _open);

        public static async Task<Receiver> StartAsync(bool hang = false)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var receiver = new Receiver(app);
            app.MapPost("/hooks/jobs", async (HttpRequest request) =>
            {
                Interlocked.Increment(ref receiver._open);
                try
                {
                    using var buffer = new MemoryStream();
                    await request.Body.CopyToAsync(buffer);
                    var body = buffer.ToArray();
                    var jobId = JsonElement.Parse(body).GetProperty("job").GetProperty("id").GetGuid();
                    receiver.Deliveries.Enqueue(new Delivery(request.Headers["Webhook-Id"].ToString(),
                        request.Headers["Webhook-Timestamp"].ToString(), request.Headers["Webhook-Signature"].ToString(), body, jobId));
                    if (!hang)
                    {
                        return Results.NoContent();
                    }

                    await receiver._release.Task;
                    return Results.StatusCode(StatusCodes.Status500InternalServerError);
                }
                finally
                {
                    Interlocked.Decrement(ref receiver._open);
                }
            });
            await app.StartAsync(TestContext.Current.CancellationToken);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            receiver.Url = new Uri(new Uri(address), "/hooks/jobs");
            return receiver;
        }

        public async Task<Delivery> WaitForJobAsync(Guid jobId, CancellationToken cancellationToken)
        {
            while (true)
            {
                if (Deliveries.FirstOrDefault(d => d.JobId == jobId) is { } delivery)
                {
                    return delivery;
                }

                await Task.Delay(50, cancellationToken);
            }
        }

        public async Task WaitForOpenRequestsAsync(int count, CancellationToken cancellationToken)
        {
            while (OpenRequests < count)
            {
                await Task.Delay(50, cancellationToken);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _release.TrySetResult();
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }
    }
}
