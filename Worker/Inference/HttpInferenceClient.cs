using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Polly.CircuitBreaker;
using Polly.Timeout;
using ServiceDefaults.Problems;

namespace Worker.Inference;

/// <summary>python-inference over HTTP/JSON, classifying every failure as final (4xx) or worth retrying.</summary>
internal sealed class HttpInferenceClient(HttpClient http, InferenceCallMetrics metrics) : IInferenceClient
{
    public async Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
    {
        using var timing = metrics.Start(model, "http");
        var outcome = await CallAsync(model, inputs, cancellationToken);
        timing.FailedWith(outcome);
        return outcome;
    }

    private async Task<InferenceOutcome> CallAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.PostAsJsonAsync("/v1/predict", new { model, inputs }, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return new InferenceOutcome.Succeeded(
                    await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken));
            }

            var status = (int)response.StatusCode;
            if (status is >= 400 and < 500)
            {
                var problem = await ReadProblemAsync(response, cancellationToken);
                problem.Status = status;
                problem.Extensions.Remove("traceId");
                problem.Instance = null;
                return new InferenceOutcome.Rejected(problem);
            }

            return new InferenceOutcome.Unavailable($"python-inference answered {status}.");
        }
        catch (Exception exception) when (exception is HttpRequestException or BrokenCircuitException
                                              or TimeoutRejectedException
                                              || (exception is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // A refused connection, or the breaker that refusals opened: nothing listens, python-inference is gone.
            var unreachable = exception is BrokenCircuitException
                or HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };
            return new InferenceOutcome.Unavailable($"python-inference is unreachable: {exception.Message}", unreachable);
        }
    }

    private static async Task<ProblemDetails> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<ProblemDetails>(cancellationToken)
                   ?? Fallback((int)response.StatusCode);
        }
        catch (JsonException)
        {
            return Fallback((int)response.StatusCode);
        }

        static ProblemDetails Fallback(int status) =>
            ProblemDetailsContract.Create(status, ProblemCodes.ForStatus(status), "python-inference refused the job's inputs.");
    }
}
