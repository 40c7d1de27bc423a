using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using ServiceDefaults.Problems;

namespace Gateway.Upstream;

/// <summary>
/// The one place that decides how a failed gRPC call behind the gateway reaches the client, matching
/// <see cref="UpstreamCalls"/> for HTTP: INVALID_ARGUMENT is 400 (field violations become <c>errors</c>), NOT_FOUND
/// 404, UNAVAILABLE 503 <c>upstream_unavailable</c>, DEADLINE_EXCEEDED 504 <c>upstream_timeout</c>, anything else
/// 502 <c>upstream_error</c> without internals. The upstream's problem code (trailer <c>problem-code</c>) is kept.
/// </summary>
public static partial class GrpcUpstreamCalls
{
    public const string ProblemCodeTrailer = "problem-code";

    public static async Task<UpstreamResult<T>> CallAsync<TResponse, T>(
        Func<CallOptions, AsyncUnaryCall<TResponse>> call, Func<TResponse, T> map, TimeSpan deadline, string service,
        ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            var response = await call(new CallOptions(deadline: DateTime.UtcNow + deadline, cancellationToken: cancellationToken));
            return UpstreamResult.Success(map(response));
        }
        catch (RpcException exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The client went away.", exception, cancellationToken);
        }
        catch (RpcException exception)
        {
            return UpstreamResult.Failure<T>(ToProblem(exception, service, logger));
        }
    }

    public static ProblemDetails ToProblem(RpcException exception, string service, ILogger logger)
    {
        var code = exception.Trailers.GetValue(ProblemCodeTrailer);
        switch (exception.StatusCode)
        {
            case StatusCode.InvalidArgument:
                return Problem(StatusCodes.Status400BadRequest, code ?? ProblemCodes.ValidationFailed, exception.Status.Detail,
                    FieldErrors(exception));
            case StatusCode.NotFound:
                return Problem(StatusCodes.Status404NotFound, code ?? ProblemCodes.NotFound, exception.Status.Detail);
            case StatusCode.Unavailable when code is not null:
                // The service answered, and said why (e.g. not_ready): passed through like an HTTP 503 problem.
                return Problem(StatusCodes.Status503ServiceUnavailable, code, exception.Status.Detail);
            case StatusCode.Unavailable:
                LogUpstreamFailure(logger, service, exception.StatusCode, exception);
                return Failed(StatusCodes.Status503ServiceUnavailable, ProblemCodes.UpstreamUnavailable,
                    $"{service} is unavailable. Try again shortly.");
            case StatusCode.DeadlineExceeded:
                LogUpstreamFailure(logger, service, exception.StatusCode, exception);
                return Failed(StatusCodes.Status504GatewayTimeout, ProblemCodes.UpstreamTimeout, $"{service} did not answer in time.");
            default:
                LogUpstreamFailure(logger, service, exception.StatusCode, exception);
                return Failed(StatusCodes.Status502BadGateway, ProblemCodes.UpstreamError, $"{service} failed to answer the request.");
        }
    }

    /// <summary>A failure the gateway describes itself, in the same words as <see cref="UpstreamCalls"/>.</summary>
    private static ProblemDetails Failed(int status, string code, string title) => new()
    {
        Status = status,
        Title = title,
        Type = ProblemCodes.TypeUri(code),
        Extensions = { ["code"] = code },
    };

    /// <summary>The field violations of the google.rpc.BadRequest in <c>grpc-status-details-bin</c>, as <c>errors</c>.</summary>
    private static Dictionary<string, string[]>? FieldErrors(RpcException exception)
    {
        var badRequest = exception.GetRpcStatus()?.GetDetail<BadRequest>();
        if (badRequest is null || badRequest.FieldViolations.Count == 0)
        {
            return null;
        }

        return badRequest.FieldViolations
            .GroupBy(violation => violation.Field, StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.Select(violation => violation.Description).ToArray(), StringComparer.Ordinal);
    }

    private static ProblemDetails Problem(int status, string code, string detail, Dictionary<string, string[]>? errors = null)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Title = ReasonPhrases.GetReasonPhrase(status),
            Detail = detail,
            Type = ProblemCodes.TypeUri(code),
            Extensions = { ["code"] = code },
        };
        if (errors is not null)
        {
            problem.Extensions["errors"] = errors;
        }

        return problem;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Service} answered gRPC status {Status}.")]
    private static partial void LogUpstreamFailure(ILogger logger, string service, StatusCode status, Exception exception);
}
