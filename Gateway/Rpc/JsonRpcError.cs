using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using ServiceDefaults.Problems;

namespace Gateway.Rpc;

/// <summary>
/// The <c>error</c> member of a response. Protocol errors use the specification's codes; a method's failure
/// uses the HTTP status the same failure has over REST, except validation, which is <c>-32602</c>.
/// </summary>
public sealed record JsonRpcError(int Code, string Message, JsonRpcErrorData Data)
{
    public const int ParseErrorCode = -32700;
    public const int InvalidRequestCode = -32600;
    public const int MethodNotFoundCode = -32601;
    public const int InvalidParamsCode = -32602;
    public const int InternalErrorCode = -32603;

    public static JsonRpcError ParseError(string traceId, string? detail = null) =>
        new(ParseErrorCode, "Parse error", new(JsonRpcProblemCodes.ParseError, null, traceId, detail));

    public static JsonRpcError InvalidRequest(string traceId, string detail, string code = JsonRpcProblemCodes.InvalidRequest) =>
        new(InvalidRequestCode, "Invalid Request", new(code, null, traceId, detail));

    public static JsonRpcError MethodNotFound(string traceId, string method) =>
        new(MethodNotFoundCode, "Method not found",
            new(JsonRpcProblemCodes.MethodNotFound, null, traceId, $"There is no method named '{method}'."));

    public static JsonRpcError InternalError(string traceId) =>
        new(InternalErrorCode, "Internal error", new(ProblemCodes.InternalError, null, traceId));

    /// <summary>A method's failure, described as a problem, in JSON-RPC terms.</summary>
    public static JsonRpcError FromProblem(ProblemDetails problem, string traceId)
    {
        var status = problem.Status ?? StatusCodes.Status500InternalServerError;
        var code = ProblemDetailsContract.CodeOf(problem);
        problem.Extensions.TryGetValue("errors", out var errors);
        var rpcCode = code is ProblemCodes.ValidationFailed or ProblemCodes.BatchTooLarge ? InvalidParamsCode : status;
        return new(rpcCode, problem.Title ?? ReasonPhrases.GetReasonPhrase(status),
            new(code, status, traceId, problem.Detail, errors, ProblemDetailsContract.RetryAfterOf(problem)));
    }
}

/// <summary>
/// The <c>data</c> member of every error: the problem contract's <c>code</c> and <c>traceId</c>, and for a
/// method's failure the HTTP <c>status</c> it has over REST, with <c>detail</c>, per-field <c>errors</c>, and the
/// seconds of its <c>Retry-After</c> header as <c>retryAfter</c> (every refusal: rate limit, upstream slots, quota,
/// full queue or batcher; the reply then carries the longest as its own <c>Retry-After</c> header).
/// </summary>
public sealed record JsonRpcErrorData(
    string Code,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Status,
    string TraceId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Detail = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] object? Errors = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? RetryAfter = null);

/// <summary>The <c>data.code</c> strings the JSON-RPC endpoint adds to the problem contract's codes.</summary>
public static class JsonRpcProblemCodes
{
    public const string ParseError = "parse_error";
    public const string InvalidRequest = "invalid_request";
    public const string MethodNotFound = "method_not_found";
}
