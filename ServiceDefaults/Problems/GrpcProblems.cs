using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace ServiceDefaults.Problems;

/// <summary>
/// The problem contract over gRPC, both ways, for every C# service. A failed call carries the problem's detail as the
/// status message, its <c>code</c> in the <c>problem-code</c> trailer, its <c>retryAfter</c> seconds (a refusal to
/// come back to) in the <c>retry-after</c> trailer and its per-field <c>errors</c> as the field violations of a
/// <c>google.rpc.BadRequest</c> in <c>grpc-status-details-bin</c>; python-inference writes the same.
/// </summary>
public static class GrpcProblems
{
    public const string ProblemCodeTrailer = "problem-code";

    public const string RetryAfterTrailer = "retry-after";

    /// <summary>
    /// The problem a failed call to <paramref name="service"/> gives the caller. INVALID_ARGUMENT is 400 (field violations
    /// become <c>errors</c>), NOT_FOUND 404, UNAVAILABLE with a problem code 503 with that code (the service answered,
    /// e.g. <c>not_ready</c>, or <c>overloaded</c> with a <c>retry-after</c>, which becomes <c>retryAfter</c>); these
    /// keep the service's code and detail. Otherwise the service said nothing we can pass
    /// on: UNAVAILABLE and CANCELLED (the service cancelled the call: it is stopping) are 503
    /// <c>upstream_unavailable</c>, DEADLINE_EXCEEDED 504 <c>upstream_timeout</c>, anything else
    /// 502 <c>upstream_error</c>, without internals (its detail names the status).
    /// </summary>
    public static ProblemDetails FromRpcException(RpcException exception, string service)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var code = exception.Trailers.GetValue(ProblemCodeTrailer);
        return exception.StatusCode switch
        {
            StatusCode.InvalidArgument => Answered(StatusCodes.Status400BadRequest, code, exception, FieldErrors(exception)),
            StatusCode.NotFound => Answered(StatusCodes.Status404NotFound, code, exception),
            StatusCode.Unavailable when code is not null => WithRetryAfter(
                Answered(StatusCodes.Status503ServiceUnavailable, code, exception), exception),
            // CANCELLED that the caller did not ask for (a caller's own cancellation is no answer at all): the service
            // cancelled the call, as grpcio does to the calls in progress when it stops. Over HTTP that is a dropped
            // connection, 503 upstream_unavailable; so here.
            StatusCode.Unavailable or StatusCode.Cancelled => ProblemDetailsContract.UpstreamUnavailable(service),
            // No answer at all: the client made the status up from a broken stream or connection (a server that stops
            // resets its streams, which reads as INTERNAL). Over HTTP that is a dropped connection too.
            _ when IsTransportFailure(exception) => ProblemDetailsContract.UpstreamUnavailable(service),
            StatusCode.DeadlineExceeded => ProblemDetailsContract.Create(StatusCodes.Status504GatewayTimeout,
                ProblemCodes.UpstreamTimeout, $"{service} did not answer in time."),
            // The status's name only (the message may carry internals): which failure it was, for whoever reads the problem.
            _ => ProblemDetailsContract.Create(StatusCodes.Status502BadGateway, ProblemCodes.UpstreamError,
                $"{service} failed to answer the request.", $"The call ended with gRPC status {exception.StatusCode}."),
        };
    }

    /// <summary>
    /// Whether the call got no status from the service at all: the client made one up from the transport's failure (a
    /// stream the server reset, a connection that ended or was refused), which it keeps as the status's debug exception.
    /// A passed deadline is never one: the caller ended the call, whatever the transport did meanwhile.
    /// </summary>
    public static bool IsTransportFailure(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.StatusCode != StatusCode.DeadlineExceeded
               && exception.Status.DebugException is HttpRequestException or IOException or System.Net.Sockets.SocketException;
    }

    /// <summary>Whether the service described the failure itself (the cases <see cref="FromRpcException"/> passes on).</summary>
    public static bool IsDescribedByService(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound
               || (exception.StatusCode == StatusCode.Unavailable && exception.Trailers.GetValue(ProblemCodeTrailer) is not null);
    }

    /// <summary>
    /// The failed call a server answers with for <paramref name="problem"/>: the status its HTTP status stands for, the
    /// detail (else the title) as message, the code as trailer and <c>errors</c> as a <c>google.rpc.BadRequest</c>, each
    /// field named by <paramref name="fieldName"/> (e.g. as the proto spells it) or as in the problem.
    /// </summary>
    public static RpcException ToRpcException(ProblemDetails problem, Func<string, string>? fieldName = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var statusCode = StatusCodeFor(problem.Status ?? StatusCodes.Status500InternalServerError);
        var status = new Google.Rpc.Status
        {
            Code = (int)statusCode,
            Message = problem.Detail ?? problem.Title ?? statusCode.ToString(),
        };
        if (problem.Extensions.TryGetValue("errors", out var value) && value is IEnumerable<KeyValuePair<string, string[]>> errors)
        {
            var badRequest = new BadRequest();
            badRequest.FieldViolations.AddRange(errors.SelectMany(error => error.Value.Select(description =>
                new BadRequest.Types.FieldViolation
                {
                    Field = fieldName?.Invoke(error.Key) ?? error.Key,
                    Description = description,
                })));
            if (badRequest.FieldViolations.Count > 0)
            {
                status.Details.Add(Any.Pack(badRequest));
            }
        }

        var exception = status.ToRpcException();
        exception.Trailers.Add(ProblemCodeTrailer, ProblemDetailsContract.CodeOf(problem));
        if (ProblemDetailsContract.RetryAfterOf(problem) is { } retryAfter)
        {
            exception.Trailers.Add(RetryAfterTrailer, retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return exception;
    }

    /// <summary>Whether the request is a gRPC call (its content type is <c>application/grpc</c>, with or without a suffix).</summary>
    public static bool IsGrpcRequest(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        return httpContext.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;
    }

    /// <summary>
    /// Ends a gRPC call with <paramref name="problem"/> from outside a service (middleware, e.g. authorization): a
    /// trailers-only response whose status, message and <c>problem-code</c> are those of <see cref="ToRpcException"/>.
    /// </summary>
    public static Task WriteStatusAsync(HttpContext httpContext, ProblemDetails problem)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var exception = ToRpcException(problem);
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)exception.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(exception.Status.Detail);
        response.Headers[ProblemCodeTrailer] = ProblemDetailsContract.CodeOf(problem);
        return response.CompleteAsync();
    }

    // grpc-message is percent-encoded UTF-8: everything outside printable ASCII, and '%' itself.
    private static string PercentEncode(string message)
    {
        var builder = new System.Text.StringBuilder();
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(message))
        {
            builder.Append(b is >= 0x20 and <= 0x7E and not (byte)'%' ? ((char)b).ToString() : $"%{b:X2}");
        }

        return builder.ToString();
    }

    /// <summary>The gRPC status a problem's HTTP status stands for (the inverse of <see cref="FromRpcException"/>).</summary>
    public static StatusCode StatusCodeFor(int httpStatus) => httpStatus switch
    {
        StatusCodes.Status400BadRequest or StatusCodes.Status422UnprocessableEntity => StatusCode.InvalidArgument,
        StatusCodes.Status401Unauthorized => StatusCode.Unauthenticated,
        StatusCodes.Status403Forbidden => StatusCode.PermissionDenied,
        StatusCodes.Status404NotFound => StatusCode.NotFound,
        StatusCodes.Status409Conflict or StatusCodes.Status412PreconditionFailed => StatusCode.FailedPrecondition,
        StatusCodes.Status413PayloadTooLarge or StatusCodes.Status429TooManyRequests => StatusCode.ResourceExhausted,
        StatusCodes.Status501NotImplemented => StatusCode.Unimplemented,
        StatusCodes.Status503ServiceUnavailable => StatusCode.Unavailable,
        StatusCodes.Status504GatewayTimeout => StatusCode.DeadlineExceeded,
        _ when httpStatus is >= 400 and < 500 => StatusCode.FailedPrecondition,
        _ => StatusCode.Internal,
    };

    // The service's own words: its code (else the status's), its detail as it wrote it, its field violations.
    private static ProblemDetails Answered(int status, string? code, RpcException exception,
        Dictionary<string, string[]>? errors = null) =>
        ProblemDetailsContract.Create(status, code ?? ProblemCodes.ForStatus(status), ReasonPhrases.GetReasonPhrase(status),
            exception.Status.Detail, errors);

    // A retry-after trailer of whole seconds becomes the problem's retryAfter (the gateway writes Retry-After from it).
    private static ProblemDetails WithRetryAfter(ProblemDetails problem, RpcException exception) =>
        int.TryParse(exception.Trailers.GetValue(RetryAfterTrailer), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? problem.WithRetryAfter(TimeSpan.FromSeconds(seconds))
            : problem;

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
            .ToDictionary(group => group.Key, group => group.Select(violation => violation.Description).ToArray(),
                StringComparer.Ordinal);
    }
}
