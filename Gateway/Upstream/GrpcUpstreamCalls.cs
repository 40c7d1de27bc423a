using Gateway.Application;
using Grpc.Core;
using ServiceDefaults.Problems;

namespace Gateway.Upstream;

/// <summary>
/// A unary gRPC call to a service behind the gateway, as an <see cref="Outcome{T}"/>: the failure becomes the problem
/// <see cref="GrpcProblems.FromRpcException"/> gives (the same mapping the Worker uses), matching
/// <see cref="UpstreamCalls"/> for HTTP.
/// </summary>
public static partial class GrpcUpstreamCalls
{
    public static async Task<Outcome<T>> CallAsync<TResponse, T>(
        Func<CallOptions, AsyncUnaryCall<TResponse>> call, Func<TResponse, T> map, TimeSpan deadline, string service,
        ILogger logger, CancellationToken cancellationToken, Action<RpcException>? observeFailure = null,
        GrpcRetries? retries = null)
    {
        // One deadline for the call, its retries included.
        var until = DateTime.UtcNow + deadline;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var response = await call(new CallOptions(deadline: until, cancellationToken: cancellationToken));
                return Outcome.Success(map(response));
            }
            catch (RpcException exception) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The client went away.", exception, cancellationToken);
            }
            catch (RpcException exception) when (retries is not null && retries.ShouldRetry(exception, attempt))
            {
                await Task.Delay(retries.Delay(exception, attempt), cancellationToken);
            }
            catch (RpcException exception)
            {
                return Failed(exception, service, logger, observeFailure);
            }
        }
    }

    private static Microsoft.AspNetCore.Mvc.ProblemDetails Failed(RpcException exception, string service, ILogger logger,
        Action<RpcException>? observeFailure)
    {
        observeFailure?.Invoke(exception);
        if (!GrpcProblems.IsDescribedByService(exception))
        {
            LogUpstreamFailure(logger, service, exception.StatusCode, exception);
        }

        return GrpcProblems.FromRpcException(exception, service);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Service} answered gRPC status {Status}.")]
    private static partial void LogUpstreamFailure(ILogger logger, string service, StatusCode status, Exception exception);
}
