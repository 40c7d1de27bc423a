using System.Text.Json;
using Gateway.Inference;
using Gateway.RateLimiting;
using Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using ServiceDefaults.Problems;

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
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        app.MapGet("/predict", PredictTextAsync)
            .WithTags("Predictions")
            .WithName("PredictText")
            .WithSummary("Classify one text with the default model")
            .WithDescription("A one-line shortcut: GET /predict?text=... runs the default model (sentiment) on one text. Scope: predict.")
            .RequireScope(Scopes.Predict, RateLimitingOptions.Predict)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        return app;
    }

    public static async Task<Results<Ok<PredictionResponse>, ProblemHttpResult>> PredictAsync(
        PredictionRequest request, IInferenceClient inference, IOptions<InferenceOptions> options,
        CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (ModelInputValidation.Validate(request.Model, request.Inputs, limits.MaxBatchSize, limits.MaxTextLength) is { } invalid)
        {
            return invalid;
        }

        var result = await inference.PredictAsync(request, cancellationToken);
        return result.Value is { } predictions ? TypedResults.Ok(predictions) : result.ToProblemResult();
    }

    public static async Task<Results<Ok<PredictionResponse>, ProblemHttpResult>> PredictTextAsync(
        string? text, IInferenceClient inference, IOptions<InferenceOptions> options, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: new Dictionary<string, string[]>
                {
                    ["text"] = ["Give the text to classify as ?text=..."],
                });
        }

        var limits = options.Value;
        if (text.Length > limits.MaxTextLength)
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: new Dictionary<string, string[]>
                {
                    ["text"] = [$"At most {limits.MaxTextLength} characters are allowed; got {text.Length}."],
                });
        }

        var request = new PredictionRequest(limits.DefaultModel, [JsonSerializer.SerializeToElement(text)]);
        var result = await inference.PredictAsync(request, cancellationToken);
        return result.Value is { } predictions ? TypedResults.Ok(predictions) : result.ToProblemResult();
    }

    public static async Task<Results<Ok<ModelCatalog>, ProblemHttpResult>> ListModelsAsync(
        IInferenceClient inference, CancellationToken cancellationToken)
    {
        var result = await inference.ListModelsAsync(cancellationToken);
        return result.Value is { } catalog ? TypedResults.Ok(catalog) : result.ToProblemResult();
    }
}
