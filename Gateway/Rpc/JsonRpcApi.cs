using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.RateLimiting;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Gateway.Rpc;

/// <summary><c>POST /rpc</c>: JSON-RPC 2.0 over HTTP, one request or a batch per body.</summary>
public static class JsonRpcApi
{
    public const string Path = "/rpc";

    public static IEndpointRouteBuilder MapJsonRpcApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var methods = app.ServiceProvider.GetRequiredService<JsonRpcMethodTable>();
        var options = app.ServiceProvider.GetRequiredService<IOptions<JsonRpcOptions>>().Value;

        app.MapPost(Path, HandleAsync)
            .WithName("JsonRpc")
            .WithTags("JSON-RPC")
            .WithSummary("Call the gateway's methods over JSON-RPC 2.0")
            .WithDescription(Describe(methods, options))
            .RequireAuthorization() // each method checks its own scope
            .RequireRateLimiting(RateLimitingOptions.Rpc)
            .Accepts<JsonElement>("application/json")
            .Produces<JsonElement>(StatusCodes.Status200OK, "application/json")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        return app;
    }

    private static async Task<IResult> HandleAsync(
        HttpContext httpContext, JsonRpcDispatcher dispatcher, IOptions<HttpJsonOptions> json)
    {
        if (!httpContext.Request.HasJsonContentType())
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status415UnsupportedMediaType, ProblemCodes.UnsupportedMediaType,
                "The request's content type is not supported.", "A JSON-RPC request is sent as application/json.");
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(httpContext.Request.Body, cancellationToken: httpContext.RequestAborted);
        }
        catch (JsonException)
        {
            // The parser's message names a position in the body, nothing of ours.
            var error = JsonRpcError.ParseError(ProblemDetailsContract.TraceIdOf(httpContext), "The body is not valid JSON.");
            return Reply(JsonRpcReply.Single(JsonRpcResponse.Failure(null, error)), httpContext, json.Value);
        }

        using (document)
        {
            // Written while the document lives: a result may still refer to the request's elements.
            return Reply(await dispatcher.DispatchAsync(document.RootElement, httpContext), httpContext, json.Value);
        }
    }

    private static IResult Reply(JsonRpcReply reply, HttpContext httpContext, HttpJsonOptions json)
    {
        if (reply.IsEmpty)
        {
            return TypedResults.NoContent();
        }

        // A reply with refused calls says when to come back as REST does: the longest of their waits.
        if (reply.RetryAfter is { } seconds)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        return TypedResults.Bytes(reply.ToUtf8(json.SerializerOptions), "application/json");
    }

    private static string Describe(JsonRpcMethodTable methods, JsonRpcOptions options)
    {
        var text = new StringBuilder()
            .Append("JSON-RPC 2.0 (https://www.jsonrpc.org/specification): one request object or a batch of at most ")
            .Append(options.MaxBatchSize)
            .Append(" as an array; requests without an id are notifications and get no answer (204 when nothing is left). ")
            .Append("Every answered call is HTTP 200. A method's failure has as error code the HTTP status the same failure ")
            .Append("has over REST (-32602 for validation), message = the problem title and data = { code, status, traceId, ")
            .Append("detail?, errors? }. Methods (scope = token scope required):");
        foreach (var method in methods.Methods)
        {
            text.Append("\n- ").Append(method.Name)
                .Append(" (scope: ").Append(method.Scope ?? "any authenticated caller").Append("; params: ")
                .Append(method.Params).Append("): ").Append(method.Summary);
        }

        return text.ToString();
    }
}
