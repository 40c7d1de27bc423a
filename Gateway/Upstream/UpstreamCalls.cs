using System.Net;
using System.Text.Json;
using Gateway.Application;
using Microsoft.AspNetCore.Mvc;
using Polly.CircuitBreaker;
using Polly.Timeout;
using ServiceDefaults.Problems;

namespace Gateway.Upstream;

/// <summary>
/// The one place that decides how a failure behind the gateway reaches the client: an upstream problem passes
/// through (with the gateway's trace id), a refused or broken connection or an answer broken off is 503
/// <c>upstream_unavailable</c>, a timeout 504 <c>upstream_timeout</c>, anything else upstream 502 <c>upstream_error</c> without internals.
/// </summary>
public static partial class UpstreamCalls
{
    public static async Task<Outcome<T>> SendAsync<T>(
        HttpClient client, HttpRequestMessage request, JsonSerializerOptions json, string service,
        ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                var value = await response.Content.ReadFromJsonAsync<T>(json, cancellationToken);
                return value is null
                    ? Failed<T>(HttpStatusCode.BadGateway, ProblemCodes.UpstreamError, $"{service} returned an empty answer.")
                    : Outcome.Success(value);
            }

            return Outcome.Failure<T>(await FromErrorResponseAsync(response, service, logger, cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw; // the client went away; there is nobody to answer
        }
        catch (Exception exception) when (exception is TimeoutRejectedException or TaskCanceledException)
        {
            LogUpstreamFailure(logger, service, "timed out", exception);
            return Failed<T>(HttpStatusCode.GatewayTimeout, ProblemCodes.UpstreamTimeout, $"{service} did not answer in time.");
        }
        catch (BrokenCircuitException)
        {
            // Known to be down: the breaker's openings are logged (Polly's resilience events, every probe interval); a
            // warning per refused call would be thousands a second, each with a stack trace, on the cores that answer.
            return Unavailable<T>(service);
        }
        catch (Exception exception) when (exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError
                                                  or HttpRequestError.ResponseEnded }
                                              or IOException)
        {
            // Nothing listens (or, while down, the breaker's probe every half second), or the answer broke off after its
            // headers (HttpIOException, or WholeAnswerHandler's ResponseEnded once a client's attempts are spent: the
            // process died mid-body; whether the call took effect is unknown, as with a dropped connection): the reason, not the
            // stack.
            LogUnreachable(logger, service, exception.Message);
            return Unavailable<T>(service);
        }
        catch (HttpRequestException exception)
        {
            LogUpstreamFailure(logger, service, "is unreachable", exception);
            return Unavailable<T>(service);
        }
        catch (Exception exception) when (exception is JsonException or NotSupportedException)
        {
            LogUpstreamFailure(logger, service, "sent an unreadable answer", exception);
            return Failed<T>(HttpStatusCode.BadGateway, ProblemCodes.UpstreamError, $"{service} sent an unreadable answer.");
        }
    }

    private static async Task<ProblemDetails> FromErrorResponseAsync(
        HttpResponseMessage response, string service, ILogger logger, CancellationToken cancellationToken) =>
        FromUpstreamProblem((int)response.StatusCode, await TryReadProblemAsync(response, cancellationToken), service, logger);

    /// <summary>
    /// What the client gets for an upstream's failure status and its problem (if it sent one): the problem passed on
    /// for a 4xx, 503 or 504; 502 <c>upstream_error</c> without internals for anything else.
    /// </summary>
    public static ProblemDetails FromUpstreamProblem(int status, ProblemDetails? upstream, string service, ILogger logger)
    {
        var passThrough = status is >= 400 and < 500
            or StatusCodes.Status503ServiceUnavailable or StatusCodes.Status504GatewayTimeout;
        if (upstream is not null && passThrough)
        {
            // The upstream's trace id and instance describe its own request; ours are filled in on the way out.
            upstream.Extensions.Remove("traceId");
            upstream.Instance = null;
            upstream.Status = status;
            return upstream;
        }

        if (passThrough)
        {
            return ProblemDetailsContract.Create(status, ProblemCodes.ForStatus(status),
                $"{service} refused the request ({status}).");
        }

        LogUpstreamStatus(logger, service, status);
        return ProblemDetailsContract.Create(StatusCodes.Status502BadGateway, ProblemCodes.UpstreamError,
            $"{service} failed to answer the request.");
    }

    private static async Task<ProblemDetails?> TryReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType is not ("application/problem+json" or "application/json"))
        {
            return null;
        }

        try
        {
            return await response.Content.ReadFromJsonAsync<ProblemDetails>(cancellationToken);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Outcome<T> Unavailable<T>(string service) => Outcome.Failure<T>(ProblemDetailsContract.UpstreamUnavailable(service));

    private static Outcome<T> Failed<T>(HttpStatusCode status, string code, string title) =>
        Outcome.Failure<T>(ProblemDetailsContract.Create((int)status, code, title));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Service} {What}.")]
    private static partial void LogUpstreamFailure(ILogger logger, string service, string what, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Service} is unreachable: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string service, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Service} answered {Status}.")]
    private static partial void LogUpstreamStatus(ILogger logger, string service, int status);
}
