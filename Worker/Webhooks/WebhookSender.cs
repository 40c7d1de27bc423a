using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;

namespace Worker.Webhooks;

/// <summary>
/// Single attempts (<see cref="AttemptAsync(WebhookDelivery, CancellationToken)"/>, retried through delay queues by
/// <see cref="WebhookConsumer"/>), and <see cref="DeliverAsync"/>, an in-process retry loop over them for callers outside
/// the queue. Delivery with its own retry loop: every attempt is signed afresh (a new timestamp), and the HTTP client has no
/// retry handler of its own, so <c>MaxAttempts</c> is the number of requests a receiver sees.
/// </summary>
internal sealed partial class WebhookSender(
    IHttpClientFactory clients,
    CallbackUrlPolicy policy,
    WebhookSigner signer,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookSender> logger) : IWebhookSender
{
    public const string UserAgent = "aspire-ml-gateway-webhooks/1";

    private static readonly MediaTypeHeaderValue Json = new("application/json");

    /// <summary>
    /// One attempt, the URL checked first: what the queue-driven delivery (<see cref="WebhookConsumer"/>) makes of
    /// each message. The retry, its delay and the attempt count are the caller's.
    /// </summary>
    public async Task<WebhookAttempt> AttemptAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var check = await policy.ValidateAsync(delivery.Url, cancellationToken);
        if (check is not { IsAllowed: true, Uri: { } uri })
        {
            return new WebhookAttempt.Refused(check.Reason ?? CallbackUrlPolicy.RefusedText);
        }

        return await AttemptAsync(clients.CreateClient(WebhookExtensions.HttpClientName), uri, delivery,
            options.Value.Timeout, cancellationToken);
    }

    public async Task<WebhookOutcome> DeliverAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var check = await policy.ValidateAsync(delivery.Url, cancellationToken);
        if (check is not { IsAllowed: true, Uri: { } uri })
        {
            LogRefused(logger, delivery.Id, check.Reason ?? "");
            return new WebhookOutcome.Refused(check.Reason ?? "The callback URL is refused.");
        }

        var settings = options.Value;
        var http = clients.CreateClient(WebhookExtensions.HttpClientName);
        for (var attempt = 1; ; attempt++)
        {
            switch (await AttemptAsync(http, uri, delivery, settings.Timeout, cancellationToken))
            {
                case WebhookAttempt.Succeeded succeeded:
                    LogDelivered(logger, delivery.Id, uri.Authority, attempt, succeeded.StatusCode);
                    return new WebhookOutcome.Delivered(attempt, succeeded.StatusCode);

                case WebhookAttempt.Refused refused:
                    LogRefused(logger, delivery.Id, refused.Reason);
                    return new WebhookOutcome.Refused(refused.Reason);

                case WebhookAttempt.Failed failed:
                    LogGaveUp(logger, delivery.Id, uri.Authority, attempt, failed.Error);
                    return new WebhookOutcome.GaveUp(attempt, failed.Error);

                case WebhookAttempt.Retryable retryable when attempt >= settings.MaxAttempts:
                    LogGaveUp(logger, delivery.Id, uri.Authority, attempt, retryable.Error);
                    return new WebhookOutcome.GaveUp(attempt, retryable.Error);

                case WebhookAttempt.Retryable retryable:
                    var delay = retryable.RetryAfter is { } asked
                        ? TimeSpan.FromTicks(Math.Min(asked.Ticks, settings.MaxDelay.Ticks))
                        : Backoff(attempt, settings);
                    LogRetrying(logger, delivery.Id, uri.Authority, attempt, retryable.Error, delay);
                    await Task.Delay(delay, clock, cancellationToken);
                    break;

                default:
                    throw new InvalidOperationException("Unknown attempt result.");
            }
        }
    }

    private async Task<WebhookAttempt> AttemptAsync(
        HttpClient http, Uri uri, WebhookDelivery delivery, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        request.Content = new ReadOnlyMemoryContent(delivery.Body);
        request.Content.Headers.ContentType = Json;
        request.Headers.UserAgent.ParseAdd(UserAgent);
        signer.Sign(request, delivery.Id, delivery.Body.Span, delivery.Owner);

        using var attemptTimeout = new CancellationTokenSource(timeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, attemptTimeout.Token);
        try
        {
            // Only the status matters; the receiver's body is never read.
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            var status = (int)response.StatusCode;
            return status switch
            {
                >= 200 and < 300 => new WebhookAttempt.Succeeded(status),
                (int)HttpStatusCode.TooManyRequests or (int)HttpStatusCode.ServiceUnavailable =>
                    new WebhookAttempt.Retryable($"The receiver answered {status}.", RetryAfter(response.Headers.RetryAfter)),
                (int)HttpStatusCode.RequestTimeout or >= 500 => new WebhookAttempt.Retryable($"The receiver answered {status}."),
                >= 300 and < 400 => new WebhookAttempt.Failed($"The receiver answered {status}; redirects are not followed."),
                _ => new WebhookAttempt.Failed($"The receiver answered {status}."),
            };
        }
        catch (HttpRequestException exception) when (RefusalIn(exception) is { } refusal)
        {
            return new WebhookAttempt.Refused(refusal.Message);
        }
        catch (HttpRequestException exception)
        {
            return new WebhookAttempt.Retryable($"The request failed: {exception.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WebhookAttempt.Retryable($"No answer within {timeout.TotalSeconds:0.###} s.");
        }
    }

    private static CallbackAddressRefusedException? RefusalIn(Exception exception)
    {
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is CallbackAddressRefusedException refusal)
            {
                return refusal;
            }
        }

        return null;
    }

    private TimeSpan? RetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date > clock.GetUtcNow() ? date - clock.GetUtcNow() : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>BaseDelay doubled per attempt, capped at MaxDelay, then a random half to whole of it so receivers
    /// coming back from an outage are not hit by every waiting delivery at once.</summary>
    internal static TimeSpan Backoff(int attempt, WebhookOptions settings)
    {
        var exponential = settings.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
        var capped = Math.Min(exponential, settings.MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + Random.Shared.NextDouble() / 2));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {DeliveryId} delivered to {Host} on attempt {Attempt} ({StatusCode}).")]
    private static partial void LogDelivered(ILogger logger, string deliveryId, string host, int attempt, int statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {DeliveryId} attempt {Attempt} to {Host} failed, retrying in {Delay}: {Error}")]
    private static partial void LogRetrying(ILogger logger, string deliveryId, string host, int attempt, string error, TimeSpan delay);

    [LoggerMessage(EventName = "WebhookGaveUp", Level = LogLevel.Error, Message = "Webhook {DeliveryId} to {Host} given up after {Attempt} attempts: {Error}")]
    private static partial void LogGaveUp(ILogger logger, string deliveryId, string host, int attempt, string error);

    [LoggerMessage(EventName = "WebhookRefused", Level = LogLevel.Warning, Message = "Webhook {DeliveryId} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string deliveryId, string reason);
}
