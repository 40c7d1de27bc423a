using Grpc.Core;
using Grpc.Health.V1;

namespace Gateway.Upstream.Inference;

/// <summary>
/// Over gRPC, what the HTTP transport's "down" breaker does (<c>AddInferenceResilience</c>): once a call could not
/// connect to python-inference at all, every prediction fails at once with 503 <c>upstream_unavailable</c> instead of
/// each paying the channel's retries of UNAVAILABLE, and a health check every
/// <see cref="Extensions.UpstreamExtensions.DownProbeInterval"/>, which carries no caller, notices the return.
/// </summary>
internal sealed partial class GrpcInferenceDownBreaker(Health.HealthClient health, TimeProvider clock,
    ILogger<GrpcInferenceDownBreaker> logger)
{
    private int _down;

    public bool IsDown => Volatile.Read(ref _down) == 1;

    /// <summary>Opens the breaker when <paramref name="exception"/> says the connection itself failed.</summary>
    public void Observe(RpcException exception)
    {
        if (!IsConnectionFailure(exception) || Interlocked.Exchange(ref _down, 1) == 1)
        {
            return;
        }

        LogDown(logger, exception.Status.Detail);
        // The probe belongs to no request: without the caller's execution context it starts no span of its trace.
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(ProbeUntilBackAsync);
        }
    }

    /// <summary>UNAVAILABLE that python-inference did not answer itself (no problem in its trailers): nothing to connect to.</summary>
    internal static bool IsConnectionFailure(RpcException exception) =>
        exception.StatusCode == StatusCode.Unavailable && !ServiceDefaults.Problems.GrpcProblems.IsDescribedByService(exception)
        // The client reports a connection it could not open either as the socket's own error or as
        // HttpRequestException's ConnectionError (a refused pick on a balanced channel reads as the latter).
        && exception.Status.DebugException is System.Net.Sockets.SocketException
            or HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };

    private async Task ProbeUntilBackAsync()
    {
        using var untraced = Telemetry.Untraced();
        var started = clock.GetTimestamp();
        while (IsDown)
        {
            await Task.Delay(Extensions.UpstreamExtensions.DownProbeInterval, clock);
            try
            {
                var answer = await health.CheckAsync(new HealthCheckRequest { Service = GrpcInferenceHealthCheck.ServiceName },
                    deadline: DateTime.UtcNow + TimeSpan.FromSeconds(2));
                if (answer.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    Volatile.Write(ref _down, 0);
                    var down = clock.GetElapsedTime(started);
                    LogBack(logger, down);
                }
            }
            catch (RpcException)
            {
                // still down
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "python-inference cannot be reached over gRPC ({Detail}): predictions " +
        "are answered 503 at once until a health check finds it serving again.")]
    private static partial void LogDown(ILogger logger, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "python-inference is serving again over gRPC after {Down}.")]
    private static partial void LogBack(ILogger logger, TimeSpan down);
}
