using Gateway.Apis;
using Gateway.Inference;
using Microsoft.Extensions.Options;

namespace Gateway.Rpc;

/// <summary><c>predict</c> and <c>listModels</c>: the predictions REST API's steps behind JSON-RPC.</summary>
internal static class PredictionMethods
{
    public static async Task<JsonRpcOutcome> PredictAsync(JsonRpcCall call)
    {
        var options = call.Services.GetRequiredService<IOptions<InferenceOptions>>().Value;
        var parameters = JsonRpcParams.Bind(call.Params, "model", "inputs");
        var model = parameters.OptionalString("model") ?? options.DefaultModel;
        var inputs = parameters.OptionalArray("inputs");
        if (parameters.Problem is { } unbound)
        {
            return JsonRpcOutcome.Failure(unbound);
        }

        if (ModelInputValidation.Validate(model, inputs, options.MaxBatchSize, options.MaxTextLength) is { } invalid)
        {
            return JsonRpcOutcome.Failure(invalid.ProblemDetails);
        }

        var inference = call.Services.GetRequiredService<IInferenceClient>();
        return JsonRpcOutcome.From(await inference.PredictAsync(new PredictionRequest(model, inputs), call.CancellationToken));
    }

    public static async Task<JsonRpcOutcome> ListModelsAsync(JsonRpcCall call)
    {
        if (JsonRpcParams.Bind(call.Params).Problem is { } unbound)
        {
            return JsonRpcOutcome.Failure(unbound);
        }

        var inference = call.Services.GetRequiredService<IInferenceClient>();
        return JsonRpcOutcome.From(await inference.ListModelsAsync(call.CancellationToken));
    }
}
