using Gateway.Application;
using Gateway.Limits;
using Gateway.RateLimiting;
using Gateway.Security;
using Gateway.Upstream.Inference;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Gateway.Apis;

public static class PredictionsApi
{
    public static IEndpointRouteBuilder MapPredictionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Predictions");

        api.MapPost("/predictions", PredictAsync)
            .WithName("Predict")
            .WithSummary("Predict a batch synchronously")
            .WithDescription("Runs the named model on every input and returns the predictions in input order. Scope: predict.")
            .RequireScope(Scopes.Predict, RateLimitingOptions.Batch)
            .LimitsUpstreamConcurrency(UpstreamService.Inference)
            .Accepts<PredictionRequest>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        api.MapGet("/models", ListModelsAsync)
            .WithName("ListModels")
            .WithSummary("List the served models")
            .WithDescription("Name, version, input kind, labels and held-out accuracy of every model python-inference serves. Scope: predict.")
            .RequireScope(Scopes.Predict, RateLimitingOptions.Predict)
            .LimitsUpstreamConcurrency(UpstreamService.Inference)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        app.MapGet("/predict", PredictTextAsync)
            .WithTags("Predictions")
            .WithName("PredictText")
            .WithSummary("Classify one text with the default model")
            .WithDescription("A one-line shortcut: GET /predict?text=... runs the default model (sentiment) on one text. Scope: predict.")
            .RequireScope(Scopes.Predict, RateLimitingOptions.Predict)
            .LimitsUpstreamConcurrency(UpstreamService.Inference)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        return app;
    }

    public static async Task<Results<Ok<PredictionResponse>, ProblemHttpResult>> PredictAsync(
        PredictionRequest request, PredictionService predictions, CancellationToken cancellationToken) =>
        (await predictions.PredictAsync(request, cancellationToken)).ToOk();

    public static async Task<Results<Ok<PredictionResponse>, ProblemHttpResult>> PredictTextAsync(
        string? text, PredictionService predictions, CancellationToken cancellationToken) =>
        (await predictions.PredictTextAsync(text, cancellationToken)).ToOk();

    public static async Task<Results<Ok<ModelCatalog>, ProblemHttpResult>> ListModelsAsync(
        PredictionService predictions, CancellationToken cancellationToken) =>
        (await predictions.ListModelsAsync(cancellationToken)).ToOk();
}
