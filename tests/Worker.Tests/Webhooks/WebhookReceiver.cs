using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Worker.Webhooks;

namespace Worker.Tests.Webhooks;

/// <summary>What the receiver saw of one request.</summary>
internal sealed record ReceivedWebhook(
    string Path, string? Id, string? Timestamp, string? Signature, bool SignatureValid,
    string? ContentType, string? UserAgent, byte[] Body, TimeSpan At);

/// <summary>
/// A real HTTP receiver on a loopback port of its own: it verifies each request's signature with
/// <see cref="WebhookSignature.Verify"/>, records it, and answers as the test scripts (by 1-based request number).
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    public const string Secret = "receiver-test-secret-0123456789abcdef";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _count;

    private WebhookReceiver(Func<int, HttpContext, Task> respond)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var body = buffer.ToArray();
            var headers = context.Request.Headers;
            string? id = headers[WebhookSignature.IdHeader];
            string? timestamp = headers[WebhookSignature.TimestampHeader];
            string? signature = headers[WebhookSignature.SignatureHeader];
            var valid = WebhookSignature.Verify(Secret, id, timestamp, signature, body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5));
            _received.Enqueue(new ReceivedWebhook(
                context.Request.Path, id, timestamp, signature, valid,
                context.Request.ContentType, headers.UserAgent, body, _clock.Elapsed));
            await respond(Interlocked.Increment(ref _count), context);
        });
    }

    public Uri BaseUri { get; private set; } = null!;

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    /// <summary>A receiver answering every request with <paramref name="status"/>.</summary>
    public static Task<WebhookReceiver> StartAsync(int status = StatusCodes.Status204NoContent) =>
        StartAsync((_, response) => response.StatusCode = status);

    /// <summary>A receiver that sets each response's status and headers with <paramref name="respond"/>.</summary>
    public static Task<WebhookReceiver> StartAsync(Action<int, HttpResponse> respond) =>
        StartAsync((request, context) =>
        {
            respond(request, context.Response);
            return Task.CompletedTask;
        });

    public static async Task<WebhookReceiver> StartAsync(Func<int, HttpContext, Task> respond)
    {
        var receiver = new WebhookReceiver(respond);
        await receiver._app.StartAsync(TestContext.Current.CancellationToken);
        receiver.BaseUri = new Uri(receiver._app.Urls.Single());
        return receiver;
    }

    public string Url(string path = "/hooks/job") => new Uri(BaseUri, path).ToString();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
