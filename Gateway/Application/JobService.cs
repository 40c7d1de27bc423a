using System.Security.Claims;
using Gateway.Security;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.Options;

namespace Gateway.Application;

/// <summary>
/// Asynchronous prediction jobs, each owned by the caller (the token's issuer and <c>sub</c>, <see cref="Scopes.CallerOf"/>): a caller submits, lists
/// and reads only its own. Submissions are checked like predictions, and an idempotency key must be printable.
/// </summary>
public sealed class JobService(
    IJobsClient jobs, IWebhookKeysClient webhookKeys, IOptions<JobsOptions> options, IOptions<InferenceOptions> inference)
{
    /// <summary>The REST header that carries the idempotency key, and the field that names it in a problem's errors.</summary>
    public const string IdempotencyKeyField = "Idempotency-Key";

    public async Task<Outcome<JobAccepted>> SubmitAsync(JobSubmission submission, string? idempotencyKey, ClaimsPrincipal caller,
        CancellationToken cancellationToken)
    {
        if (ModelInputValidation.Validate(submission.Model, submission.Inputs, options.Value.MaxBatchSize,
                inference.Value.MaxTextLength) is { } invalid)
        {
            return invalid;
        }

        if (idempotencyKey is not null && !IsValidIdempotencyKey(idempotencyKey))
        {
            return ModelInputValidation.Invalid(new Dictionary<string, string[]>
            {
                [IdempotencyKeyField] = ["1 to 255 visible ASCII characters."],
            });
        }

        var job = await jobs.SubmitAsync(submission, OwnerOf(caller), idempotencyKey, cancellationToken);
        return job.Map(view => new JobAccepted(view.Id, view.Status));
    }

    public async Task<Outcome<JobView>> GetAsync(Guid id, ClaimsPrincipal caller, CancellationToken cancellationToken) =>
        (await jobs.GetAsync(id, OwnerOf(caller), cancellationToken)).Map(InternalAddresses.Scrub);

    public async Task<Outcome<JobList>> ListAsync(ClaimsPrincipal caller, string? status, int? pageSize, string? pageToken,
        CancellationToken cancellationToken) =>
        (await jobs.ListAsync(OwnerOf(caller), status, pageSize, pageToken, cancellationToken))
        .Map(list => list with { Items = [.. list.Items.Select(InternalAddresses.Scrub)] });

    private static bool IsValidIdempotencyKey(string key) => key.Length is > 0 and <= 255 && key.All(c => c is > ' ' and <= '~');

    // Both doors require an authenticated caller, and the gateway accepts no token without a subject
    // (see AddGatewayAuthentication).
    /// <summary>The key the caller's job webhooks are signed with; another subject's key does not verify them.</summary>
    public Task<Outcome<WebhookSigningKey>> GetWebhookSigningKeyAsync(ClaimsPrincipal caller, CancellationToken cancellationToken) =>
        webhookKeys.GetSigningKeyAsync(OwnerOf(caller), cancellationToken);

    private static string OwnerOf(ClaimsPrincipal caller) =>
        Scopes.CallerOf(caller) ?? throw new InvalidOperationException("An authenticated caller has no issuer or subject.");
}

/// <summary>The answer to an accepted submission; poll <c>Location</c> (REST) or <c>getJob</c> (JSON-RPC) for the outcome.</summary>
public sealed record JobAccepted(Guid Id, string Status);
