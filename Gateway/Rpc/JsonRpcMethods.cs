using Gateway.Security;

namespace Gateway.Rpc;

/// <summary>The gateway's JSON-RPC methods: a new method is one entry here.</summary>
public static class JsonRpcMethods
{
    public static JsonRpcMethodTable Create() => new(
    [
        new("predict", Scopes.Predict, """{ "model"?: string, "inputs": [...] } or [model, inputs]""",
            "Runs a model (default: the configured default model) on a batch of inputs; the result is the REST prediction response.",
            PredictionMethods.PredictAsync),
        new("listModels", Scopes.Predict, "none",
            "The served models, as GET /api/v1/models returns them.",
            PredictionMethods.ListModelsAsync),
        new("submitJob", Scopes.Jobs, """{ "model": string, "inputs": [...], "callbackUrl"?: string, "idempotencyKey"?: string } or [model, inputs, callbackUrl?, idempotencyKey?]""",
            "Queues an asynchronous prediction job owned by the caller; the result is { id, status }.",
            JobMethods.SubmitAsync),
        new("getJob", Scopes.Jobs, """{ "id": guid } or [id]""",
            "One of the caller's jobs, as GET /api/v1/jobs/{id} returns it.",
            JobMethods.GetAsync),
    ]);
}
