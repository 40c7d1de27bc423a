using Gateway.Apis;
using Gateway.Inference;
using Gateway.Jobs;
using Gateway.Security;
using Microsoft.Extensions.Options;

namespace Gateway.Rpc;

/// <summary><c>submitJob</c> and <c>getJob</c>: jobs owned by the caller's subject (the <c>sub</c> claim).</summary>
internal static class JobMethods
{
    public static async Task<JsonRpcOutcome> SubmitAsync(JsonRpcCall call)
    {
        var parameters = JsonRpcParams.Bind(call.Params, "model", "inputs", "callbackUrl", "idempotencyKey");
        var submission = new JobSubmission(parameters.OptionalString("model"), parameters.OptionalArray("inputs"),
            parameters.OptionalString("callbackUrl"));
        var idempotencyKey = parameters.OptionalString("idempotencyKey");
        if (parameters.Problem is { } unbound)
        {
            return JsonRpcOutcome.Failure(unbound);
        }

        var maxBatchSize = call.Services.GetRequiredService<IOptions<JobsOptions>>().Value.MaxBatchSize;
        var maxTextLength = call.Services.GetRequiredService<IOptions<InferenceOptions>>().Value.MaxTextLength;
        if (ModelInputValidation.Validate(submission.Model, submission.Inputs, maxBatchSize, maxTextLength) is { } invalid)
        {
            return JsonRpcOutcome.Failure(invalid.ProblemDetails);
        }

        var jobs = call.Services.GetRequiredService<IJobsClient>();
        var result = await jobs.SubmitAsync(submission, OwnerOf(call), idempotencyKey, call.CancellationToken);
        return result.Value is { } job
            ? JsonRpcOutcome.Success(new JobAccepted(job.Id, job.Status))
            : JsonRpcOutcome.From(result);
    }

    public static async Task<JsonRpcOutcome> GetAsync(JsonRpcCall call)
    {
        var parameters = JsonRpcParams.Bind(call.Params, "id");
        var id = parameters.RequiredGuid("id");
        if (parameters.Problem is { } unbound)
        {
            return JsonRpcOutcome.Failure(unbound);
        }

        var jobs = call.Services.GetRequiredService<IJobsClient>();
        return JsonRpcOutcome.From(await jobs.GetAsync(id, OwnerOf(call), call.CancellationToken));
    }

    // /rpc requires an authenticated user, and the gateway accepts no token without a subject, as for REST.
    private static string OwnerOf(JsonRpcCall call) => Scopes.SubjectOf(call.HttpContext.User)
        ?? throw new InvalidOperationException("An authenticated caller has no subject.");
}
