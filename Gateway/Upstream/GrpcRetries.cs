using Gateway.Upstream.Inference;
using Grpc.Core;
using ServiceDefaults.Problems;

namespace Gateway.Upstream;

/// <summary>
/// Which failed gRPC calls are tried again, as the HTTP/JSON transport decides (<c>AddInferenceResilience</c>): a call
/// whose connection broke (UNAVAILABLE that the service did not answer itself, or any status the client made up from a
/// stream the server reset) after a short, growing, jittered delay.
/// Not a refused connection (nothing listens there: the down breaker answers the next calls at once, rather than each
/// paying the back-off, as the channel's own retry policy made them), nor an answer of the service's own, even
/// UNAVAILABLE (<c>overloaded</c>, <c>not_ready</c>): it has decided.
/// On a channel <paramref name="Balanced"/> over several servers (a <c>dns:///</c> address), a refused connection is one
/// server's, gone between two resolutions of the name (a pod scaled down): tried again at once, the call goes to the
/// next server; only when every attempt is refused is the service down.
/// </summary>
public sealed record GrpcRetries(int MaxRetries, TimeSpan BaseDelay, bool Balanced = false)
{
    public bool ShouldRetry(RpcException exception, int attempt) =>
        attempt < MaxRetries
        && ((exception.StatusCode == StatusCode.Unavailable && !GrpcProblems.IsDescribedByService(exception))
            || GrpcProblems.IsTransportFailure(exception))
        && (Balanced || !GrpcInferenceDownBreaker.IsConnectionFailure(exception));

    /// <summary>
    /// None after a refusal on a balanced channel; otherwise the base delay doubled per attempt, between half and all of it.
    /// </summary>
    public TimeSpan Delay(RpcException exception, int attempt) =>
        RefusedByOneServer(exception) ? TimeSpan.Zero
            : BaseDelay * Math.Pow(2, attempt) * (0.5 + (Random.Shared.NextDouble() / 2));

    private bool RefusedByOneServer(RpcException exception) =>
        Balanced && GrpcInferenceDownBreaker.IsConnectionFailure(exception);
}
