using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AppHost.Tests;

/// <summary>
/// A callback receiver on loopback, written from docs/messaging.md's description of the signature (not from the
/// Worker's code): HMAC-SHA256 over "{Webhook-Id}.{Webhook-Timestamp}." + body, keyed with the UTF-8 text of the
/// owner's signing key (GET /api/v1/webhooks/signing-key, see <see cref="SigningKeys"/>).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _secret;

    private WebhookReceiver(WebApplication app, string secret) => (_app, _secret) = (app, secret);

    public sealed record Received(string Id, bool SignatureValid, JsonElement Body);

    public ConcurrentQueue<Received> Deliveries { get; } = new();

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(string secret, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, secret);
        app.MapPost("/hooks/jobs", receiver.ReceiveAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = new Uri(new Uri(address), "/hooks/jobs");
        return receiver;
    }

    private async Task<IResult> ReceiveAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var id = request.Headers["Webhook-Id"].ToString();
        var valid = Verifies(_secret, id, request.Headers["Webhook-Timestamp"].ToString(),
            request.Headers["Webhook-Signature"].ToString(), body);
        Deliveries.Enqueue(new Received(id, valid, JsonElement.Parse(body)));
        return valid ? Results.NoContent() : Results.Unauthorized();
    }

    /// <summary>
    /// Whether a delivery's <c>Webhook-Signature</c> holds <c>v1=</c> HMAC-SHA256 of "{id}.{timestamp}." + body under
    /// <paramref name="key"/>, with a timestamp within five minutes of now.
    /// </summary>
    public static bool Verifies(string key, string id, string timestamp, string signatureHeader, byte[] body)
    {
        byte[] signed = [.. Encoding.UTF8.GetBytes($"{id}.{timestamp}."), .. body];
        var expected = "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), signed));
        return long.TryParse(timestamp, CultureInfo.InvariantCulture, out var seconds)
               && Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) <= 300
               && signatureHeader.Split(' ').Contains(expected);
    }

    public async Task<Received> WaitForAsync(Func<Received, bool> match, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (Deliveries.FirstOrDefault(match) is { } received)
            {
                return received;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
