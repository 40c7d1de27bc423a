using System.Text.Json;
using Gateway.Application;
using Gateway.Limits;
using Gateway.RateLimiting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

namespace Gateway.Rpc;

/// <summary>
/// Turns a parsed body into the reply: checks each request, finds its method, charges it to its rate-limit policy,
/// checks the method's scope, runs it in a slot of its upstream's pool and maps its outcome. A batch runs in request order, one
/// call at a time, and answers in that order; a call the budget or the slots refuse gets its own error (429
/// <c>rate_limited</c>, 503 <c>concurrency_limited</c>) and the calls after it are still tried, so a batch larger than
/// the budget left has its first calls answered and the rest refused.
/// </summary>
internal sealed partial class JsonRpcDispatcher(
    JsonRpcMethodTable methods, IOptions<JsonRpcOptions> options, RateLimitBudget budget,
    UpstreamConcurrencyLimiter concurrency, IOptions<UpstreamLimitsOptions> upstreamLimits, ILogger<JsonRpcDispatcher> logger)
{
    public async Task<JsonRpcReply> DispatchAsync(JsonElement body, HttpContext httpContext)
    {
        var traceId = ProblemDetailsContract.TraceIdOf(httpContext);
        if (body.ValueKind != JsonValueKind.Array)
        {
            return JsonRpcReply.Single(await HandleAsync(body, httpContext, traceId));
        }

        var count = body.GetArrayLength();
        if (count == 0)
        {
            return JsonRpcReply.Single(JsonRpcResponse.Failure(null,
                JsonRpcError.InvalidRequest(traceId, "A batch holds at least one request.")));
        }

        var limit = options.Value.MaxBatchSize;
        if (count > limit)
        {
            return JsonRpcReply.Single(JsonRpcResponse.Failure(null, JsonRpcError.InvalidRequest(traceId,
                $"A batch holds at most {limit} requests; this one holds {count}.", ProblemCodes.BatchTooLarge)));
        }

        var responses = new List<JsonRpcResponse>(count);
        foreach (var element in body.EnumerateArray())
        {
            if (await HandleAsync(element, httpContext, traceId) is { } response)
            {
                responses.Add(response);
            }
        }

        return JsonRpcReply.Batch(responses);
    }

    private async Task<JsonRpcResponse?> HandleAsync(JsonElement element, HttpContext httpContext, string traceId)
    {
        // An invalid request is answered even without an id: the caller cannot have meant it as a notification.
        if (!JsonRpcRequest.TryRead(element, out var request, out var id, out var reason))
        {
            return JsonRpcResponse.Failure(id, JsonRpcError.InvalidRequest(traceId, reason));
        }

        var (result, error) = await InvokeAsync(request, httpContext, traceId);
        if (request.IsNotification)
        {
            if (error is not null)
            {
                LogNotificationFailed(logger, request.Method, error.Code, error.Data.Code);
            }

            return null;
        }

        return error is null ? JsonRpcResponse.Success(request.Id, result) : JsonRpcResponse.Failure(request.Id, error);
    }

    private async Task<(object? Result, JsonRpcError? Error)> InvokeAsync(
        JsonRpcRequest request, HttpContext httpContext, string traceId)
    {
        if (!methods.TryGet(request.Method, out var method))
        {
            return (null, JsonRpcError.MethodNotFound(traceId, request.Method));
        }

        if (method.RateLimitPolicy is { } policy && budget.TryCharge(httpContext, policy) is { } retryAfter)
        {
            return (null, JsonRpcError.FromProblem(RateLimits.Refused(retryAfter), traceId));
        }

        IDisposable? slot = null;
        if (method.Upstream is { } upstream)
        {
            (slot, var callerIsFull) = await concurrency.EnterAsync(upstream, RateLimitBudget.CallerKey(httpContext),
                httpContext.RequestAborted);
            if (slot is null)
            {
                return (null, JsonRpcError.FromProblem(
                    UpstreamConcurrency.Refused(upstream, callerIsFull, upstreamLimits.Value.RetryAfter), traceId));
            }
        }

        using var held = slot;

        try
        {
            var outcome = await AuthorizeAsync(method, httpContext)
                          ?? await method.Handler(new JsonRpcCall(request.Params, httpContext));
            return outcome.Problem is { } problem ? (null, JsonRpcError.FromProblem(problem, traceId)) : (outcome.Value, null);
        }
        catch (OperationCanceledException) when (httpContext.RequestAborted.IsCancellationRequested)
        {
            throw; // the client went away; there is nobody to answer
        }
#pragma warning disable CA1031 // One failing method must not take down the rest of its batch.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            LogMethodFailed(logger, method.Name, exception);
            return (null, JsonRpcError.InternalError(traceId));
        }
    }

    private static async Task<Outcome<object?>?> AuthorizeAsync(JsonRpcMethod method, HttpContext httpContext)
    {
        if (method.Scope is not { } scope)
        {
            return null;
        }

        var authorization = httpContext.RequestServices.GetRequiredService<IAuthorizationService>();
        var result = await authorization.AuthorizeAsync(httpContext.User, scope);
        return result.Succeeded
            ? null
            : Outcome.Failure<object?>(ProblemDetailsContract.Create(StatusCodes.Status403Forbidden,
                ProblemCodes.InsufficientScope, "The caller lacks the scope this method requires.",
                $"'{method.Name}' requires the scope '{scope}'."));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "JSON-RPC method {Method} failed.")]
    private static partial void LogMethodFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "JSON-RPC notification {Method} failed with {ErrorCode} ({ProblemCode}); notifications get no answer.")]
    private static partial void LogNotificationFailed(ILogger logger, string method, int errorCode, string problemCode);
}
