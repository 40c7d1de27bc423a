namespace Gateway.Upstream;

/// <summary>
/// Reads each answer whole inside its attempt, so that one broken off after its headers (the process died while
/// sending it) fails the attempt as a broken connection does, and is retried like one, rather than failing the caller
/// once the pipeline has returned. Placed innermost in a client whose calls are safe to repeat: the Worker pool's
/// (<see cref="Worker.WorkerPool"/>) and python-inference's over HTTP/JSON (<c>AddInferenceResilience</c>). Both
/// answer small JSON documents, which the caller reads whole anyway.
/// </summary>
internal sealed class WholeAnswerHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        try
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            return response;
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            response.Dispose();
            throw new HttpRequestException(HttpRequestError.ResponseEnded,
                $"The answer ({(int)response.StatusCode}) broke off after its headers.", exception);
        }
    }
}
