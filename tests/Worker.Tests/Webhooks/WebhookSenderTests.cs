using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

/// <summary>The sender as the Worker registers it, against a real HTTP receiver on loopback.</summary>
public sealed class WebhookSenderTests
{
    private static readonly byte[] Body = """{"jobId":"0198c2d4-7f1e-7000-8000-000000000001","status":"succeeded"}"""u8.ToArray();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static async Task<WebhookOutcome> DeliverAsync(
        WebhookReceiver receiver, IDictionary<string, string?>? settings = null, string id = "delivery-1",
        Action<IHostApplicationBuilder>? configure = null)
    {
        using var host = WebhookHost.Build(settings, configure);
        var sender = host.Services.GetRequiredService<IWebhookSender>();
        return await sender.DeliverAsync(new WebhookDelivery(id, receiver.Url(), Body), Token);
    }

    [Fact]
    public async Task A_delivery_arrives_once_signed_as_json_with_the_user_agent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        var outcome = await DeliverAsync(receiver);

        Assert.Equal(new WebhookOutcome.Delivered(1, 204), outcome);
        var received = Assert.Single(receiver.Received);
        Assert.True(received.SignatureValid);
        Assert.Equal("delivery-1", received.Id);
        Assert.Equal("/hooks/job", received.Path);
        Assert.Equal("application/json", received.ContentType);
        Assert.Equal("aspire-ml-gateway-webhooks/1", received.UserAgent);
        Assert.Equal(Body, received.Body);
    }

    [Fact]
    public async Task Server_errors_are_retried_under_the_same_delivery_id_until_accepted()
    {
        await using var receiver = await WebhookReceiver.StartAsync((request, response) =>
            response.StatusCode = request <= 2 ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK);

        var outcome = await DeliverAsync(receiver);

        Assert.Equal(new WebhookOutcome.Delivered(3, 200), outcome);
        Assert.Equal(3, receiver.Received.Count);
        Assert.All(receiver.Received, received =>
        {
            Assert.Equal("delivery-1", received.Id);
            Assert.True(received.SignatureValid);
        });
    }

    [Fact]
    public async Task Each_attempt_is_signed_with_a_fresh_timestamp()
    {
        await using var receiver = await WebhookReceiver.StartAsync((request, response) =>
            response.StatusCode = request <= 2 ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);

        await DeliverAsync(receiver, configure: builder => builder.Services.AddSingleton<TimeProvider>(new SteppingClock()));

        var timestamps = receiver.Received.Select(received => long.Parse(received.Timestamp!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(3, timestamps.Distinct().Count());
        Assert.Equal(timestamps.Order(), timestamps);
        Assert.All(receiver.Received, received => Assert.True(received.SignatureValid));
    }

    [Fact]
    public async Task A_receiver_that_keeps_failing_is_given_up_after_max_attempts_requests_exactly()
    {
        await using var receiver = await WebhookReceiver.StartAsync(StatusCodes.Status500InternalServerError);

        var outcome = await DeliverAsync(receiver);

        // Exactly MaxAttempts requests: no resilience handler from the service defaults retries underneath.
        var gaveUp = Assert.IsType<WebhookOutcome.GaveUp>(outcome);
        Assert.Equal(4, gaveUp.Attempts);
        Assert.Contains("500", gaveUp.LastError, StringComparison.Ordinal);
        Assert.Equal(4, receiver.Received.Count);
    }

    [Theory]
    [InlineData(StatusCodes.Status400BadRequest)]
    [InlineData(StatusCodes.Status401Unauthorized)]
    [InlineData(StatusCodes.Status404NotFound)]
    [InlineData(StatusCodes.Status410Gone)]
    public async Task A_client_error_is_given_up_at_once(int status)
    {
        await using var receiver = await WebhookReceiver.StartAsync(status);

        var outcome = await DeliverAsync(receiver);

        var gaveUp = Assert.IsType<WebhookOutcome.GaveUp>(outcome);
        Assert.Equal(1, gaveUp.Attempts);
        Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), gaveUp.LastError, StringComparison.Ordinal);
        Assert.Single(receiver.Received);
    }

    [Theory]
    [InlineData(StatusCodes.Status408RequestTimeout)]
    [InlineData(StatusCodes.Status429TooManyRequests)]
    [InlineData(StatusCodes.Status502BadGateway)]
    public async Task Timeouts_throttling_and_gateway_errors_are_retried(int status)
    {
        await using var receiver = await WebhookReceiver.StartAsync((request, response) =>
            response.StatusCode = request == 1 ? status : StatusCodes.Status200OK);

        Assert.Equal(new WebhookOutcome.Delivered(2, 200), await DeliverAsync(receiver));
    }

    [Fact]
    public async Task Retry_after_on_429_is_honoured()
    {
        await using var receiver = await WebhookReceiver.StartAsync((request, response) =>
        {
            response.StatusCode = request == 1 ? StatusCodes.Status429TooManyRequests : StatusCodes.Status200OK;
            response.Headers.RetryAfter = "1";
        });
        var clock = new TestClock();

        var outcome = await DeliverAsync(receiver, new Dictionary<string, string?> { ["Webhooks:MaxDelay"] = "00:00:05" },
            configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));

        Assert.Equal(new WebhookOutcome.Delivered(2, 200), outcome);
        // The one wait between the attempts is the second the receiver asked for, not the 10 ms back-off.
        Assert.Equal([TimeSpan.FromSeconds(1)], clock.Started.Where(due => due != WebhookHost.AttemptTimeout));
        Assert.True(receiver.Received[1].At - receiver.Received[0].At >= TimeSpan.FromMilliseconds(950), "the retry came early");
    }

    [Fact]
    public async Task Retry_after_zero_retries_at_once_and_a_long_one_is_capped_by_max_delay()
    {
        await using var receiver = await WebhookReceiver.StartAsync((request, response) =>
        {
            response.StatusCode = request <= 2 ? StatusCodes.Status429TooManyRequests : StatusCodes.Status200OK;
            response.Headers.RetryAfter = request == 1 ? "0" : "3600";
        });
        var clock = new TestClock();

        var outcome = await DeliverAsync(receiver, configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));

        Assert.Equal(new WebhookOutcome.Delivered(3, 200), outcome);
        // "0" needs no timer; "3600" is cut to MaxDelay (50 ms): the sender never started a longer wait.
        Assert.Equal([TimeSpan.FromMilliseconds(50)], clock.Started.Where(due => due != WebhookHost.AttemptTimeout));
    }

    [Fact]
    public async Task A_redirect_is_not_followed_and_counts_as_a_failure()
    {
        await using var receiver = await WebhookReceiver.StartAsync((_, response) =>
        {
            response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            response.Headers.Location = "/elsewhere";
        });

        var outcome = await DeliverAsync(receiver);

        var gaveUp = Assert.IsType<WebhookOutcome.GaveUp>(outcome);
        Assert.Equal(1, gaveUp.Attempts);
        Assert.Contains("redirect", gaveUp.LastError, StringComparison.Ordinal);
        Assert.Equal("/hooks/job", Assert.Single(receiver.Received).Path);
    }

    [Fact]
    public async Task A_receiver_slower_than_the_attempt_timeout_is_retried_then_given_up()
    {
        // The attempt timeout (5 min) is held by the test clock and runs out only once the receiver has the request:
        // each attempt reaches the receiver and then times out, however slow the machine.
        var clock = new TestClock(holdFrom: TimeSpan.FromMinutes(1));
        await using var receiver = await WebhookReceiver.StartAsync(async (_, context) =>
        {
            clock.ReleaseHeld();
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });

        var outcome = await DeliverAsync(receiver, new Dictionary<string, string?>
        {
            ["Webhooks:Timeout"] = "00:05:00",
            ["Webhooks:MaxAttempts"] = "2",
        }, configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));

        var gaveUp = Assert.IsType<WebhookOutcome.GaveUp>(outcome);
        Assert.Equal(2, gaveUp.Attempts);
        Assert.Contains("No answer within 300 s", gaveUp.LastError, StringComparison.Ordinal);
        Assert.Equal(2, receiver.Received.Count);
    }

    [Fact]
    public async Task A_closed_port_is_retried_as_a_network_error_then_given_up()
    {
        using var host = WebhookHost.Build();
        var sender = host.Services.GetRequiredService<IWebhookSender>();

        var outcome = await sender.DeliverAsync(new WebhookDelivery("delivery-1", $"http://127.0.0.1:{ClosedPort()}/hook", Body), Token);

        var gaveUp = Assert.IsType<WebhookOutcome.GaveUp>(outcome);
        Assert.Equal(4, gaveUp.Attempts);
        Assert.Contains("request failed", gaveUp.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_allow_list_a_loopback_url_is_refused_before_any_request()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        var outcome = await DeliverAsync(receiver, new Dictionary<string, string?>
        {
            ["Webhooks:AllowedNetworks:0"] = "203.0.113.0/24",
            ["Webhooks:AllowedNetworks:1"] = "2001:db8::/32",
        });

        Assert.Equal(CallbackUrlPolicy.RefusedText, Assert.IsType<WebhookOutcome.Refused>(outcome).Reason);
        Assert.Empty(receiver.Received);
    }

    [Fact]
    public async Task A_host_that_rebinds_to_loopback_after_validation_is_refused_when_connecting()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var answers = 0;
        using var host = WebhookHost.Build(
            new Dictionary<string, string?>
            {
                ["Webhooks:AllowedNetworks:0"] = "203.0.113.0/24",
                ["Webhooks:AllowedNetworks:1"] = "2001:db8::/32",
                // The receiver's port is allowed, so the public address passes validation and only the connection is refused.
                ["Webhooks:AllowedPorts:0"] = receiver.BaseUri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
            builder => builder.Services.AddSingleton(services => new CallbackUrlPolicy(
                services.GetRequiredService<IOptions<WebhookOptions>>(),
                // A public address for the check, then the receiver's loopback address for the connection.
                (_, _) => Task.FromResult<IPAddress[]>([Interlocked.Increment(ref answers) == 1 ? IPAddress.Parse("93.184.216.34") : IPAddress.Loopback]))));
        var sender = host.Services.GetRequiredService<IWebhookSender>();

        var outcome = await sender.DeliverAsync(new WebhookDelivery("delivery-1", $"http://rebinding.test:{receiver.BaseUri.Port}/hook", Body), Token);

        var refused = Assert.IsType<WebhookOutcome.Refused>(outcome);
        Assert.Equal(CallbackUrlPolicy.RefusedText, refused.Reason);
        Assert.Empty(receiver.Received);
        Assert.Equal(2, answers);
    }

    [Fact]
    public async Task Cancellation_stops_the_retries_and_throws()
    {
        await using var receiver = await WebhookReceiver.StartAsync(StatusCodes.Status500InternalServerError);
        // A back-off of five to ten minutes, held by the test clock: the test cancels once the sender waits to retry.
        var clock = new TestClock(holdFrom: TimeSpan.FromMinutes(1));
        using var host = WebhookHost.Build(
            new Dictionary<string, string?> { ["Webhooks:BaseDelay"] = "00:10:00", ["Webhooks:MaxDelay"] = "00:10:00" },
            builder => builder.Services.AddSingleton<TimeProvider>(clock));
        var sender = host.Services.GetRequiredService<IWebhookSender>();
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(Token);

        var delivering = sender.DeliverAsync(new WebhookDelivery("delivery-1", receiver.Url(), Body), cancellation.Token);
        await clock.Holding.WaitAsync(Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => delivering);
        Assert.Single(receiver.Received);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The system clock, moved on a second each time it is read, so consecutive attempts get distinct timestamps.</summary>
    private sealed class SteppingClock : TimeProvider
    {
        private long _reads;

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow().AddSeconds(Interlocked.Increment(ref _reads));
    }
}
