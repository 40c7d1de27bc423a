using System.Text.Json;
using Gateway.Application;

namespace Gateway.Upstream.Inference;

/// <summary>python-inference over HTTP/JSON. Its JSON is snake_case; the gateway's own API is camelCase.</summary>
internal sealed class HttpInferenceClient(HttpClient http, InferenceCallMetrics metrics, ILogger<HttpInferenceClient> logger)
    : IInferenceClient
{
    public const string ServiceName = "python-inference";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public async Task<Outcome<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken)
    {
        using var call = metrics.Start(request.Model ?? "", "http");
        var outcome = await UpstreamCalls.SendAsync<PredictionResponse>(http,
            new HttpRequestMessage(HttpMethod.Post, "/v1/predict") { Content = JsonContent.Create(request, options: Json) },
            Json, ServiceName, logger, cancellationToken);
        call.FailedWith(outcome.Problem);
        return outcome;
    }

    public Task<Outcome<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        UpstreamCalls.SendAsync<ModelCatalog>(http, new HttpRequestMessage(HttpMethod.Get, "/v1/models"),
            Json, ServiceName, logger, cancellationToken);
}
