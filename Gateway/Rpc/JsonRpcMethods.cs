using Gateway.Application;
using Gateway.RateLimiting;
using Gateway.Security;
using Gateway.Limits;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Worker;

namespace Gateway.Rpc;

/// <summary>
/// The gateway's JSON-RPC methods: each binds its params and calls the same application service as its REST
/// endpoint, so validation, ownership and failures are the REST ones, and each call is charged to the rate-limit
/// policy of that endpoint (POST /api/v1/predictions: batch; GET /api/v1/models: predict; jobs: jobs). A new method
/// is one entry here.
/// </summary>
public static class JsonRpcMethods
{
    public static JsonRpcMethodTable Create() => new(
    [
        JsonRpcMethod.For<PredictionService>("predict", Scopes.Predict, RateLimitingOptions.Batch, UpstreamService.Inference, """{ "model"?: string, "inputs": [...] } or [model, inputs]""",
            "Runs a model (default: the configured default model) on a batch of inputs; the result is the REST prediction response.",
            (predictions, call) =>
            {
                var p = JsonRpcParams.Bind(call.Params, "model", "inputs");
                var request = new PredictionRequest(p.OptionalString("model") ?? predictions.DefaultModel, p.OptionalArray("inputs"));
                return p.ThenAsync(() => predictions.PredictAsync(request, call.CancellationToken));
            }),
        JsonRpcMethod.For<PredictionService>("listModels", Scopes.Predict, RateLimitingOptions.Predict, UpstreamService.Inference, "none",
            "The served models, as GET /api/v1/models returns them.",
            (predictions, call) => JsonRpcParams.Bind(call.Params).ThenAsync(() => predictions.ListModelsAsync(call.CancellationToken))),
        JsonRpcMethod.For<JobService>("submitJob", Scopes.Jobs, RateLimitingOptions.Jobs, UpstreamService.Worker, """{ "model": string, "inputs": [...], "callbackUrl"?: string, "idempotencyKey"?: string } or [model, inputs, callbackUrl?, idempotencyKey?]""",
            "Queues an asynchronous prediction job owned by the caller; the result is { id, status }.",
            (jobs, call) =>
            {
                var p = JsonRpcParams.Bind(call.Params, "model", "inputs", "callbackUrl", "idempotencyKey");
                var submission = new JobSubmission(p.OptionalString("model"), p.OptionalArray("inputs"), p.OptionalString("callbackUrl"));
                var idempotencyKey = p.OptionalString("idempotencyKey");
                return p.ThenAsync(() => jobs.SubmitAsync(submission, idempotencyKey, call.User, call.CancellationToken));
            }),
        JsonRpcMethod.For<JobService>("getJob", Scopes.Jobs, RateLimitingOptions.Jobs, UpstreamService.WorkerReads, """{ "id": guid } or [id]""",
            "One of the caller's jobs, as GET /api/v1/jobs/{id} returns it.",
            (jobs, call) =>
            {
                var p = JsonRpcParams.Bind(call.Params, "id");
                var id = p.RequiredGuid("id");
                return p.ThenAsync(() => jobs.GetAsync(id, call.User, call.CancellationToken));
            }),
    ]);
}
