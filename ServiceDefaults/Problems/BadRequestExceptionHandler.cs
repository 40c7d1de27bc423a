using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace ServiceDefaults.Problems;

/// <summary>
/// Turns the framework's binding failures (malformed JSON, a body too large, a wrong content type) into the
/// problem contract, keeping the status the framework chose and its explanation, which never contains internals.
/// </summary>
internal sealed class BadRequestExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
        {
            return false;
        }

        httpContext.Response.StatusCode = badRequest.StatusCode;
        var problem = ProblemDetailsContract.Create(badRequest.StatusCode, ProblemCodes.ForStatus(badRequest.StatusCode),
            badRequest.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
                StatusCodes.Status415UnsupportedMediaType => "The request's content type is not supported.",
                _ => "The request could not be read.",
            },
            badRequest.Message);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        });
    }
}
