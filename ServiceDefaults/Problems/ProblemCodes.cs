namespace ServiceDefaults.Problems;

/// <summary>
/// The stable, machine-readable <c>code</c> member of every problem response. The same strings are produced by
/// python-inference; docs/api.md ("Error contract") lists them with their HTTP statuses.
/// </summary>
public static class ProblemCodes
{
    public const string ValidationFailed = "validation_failed";
    public const string BatchTooLarge = "batch_too_large";
    public const string ModelNotFound = "model_not_found";
    public const string ModelVersionNotFound = "model_version_not_found";
    public const string JobNotFound = "job_not_found";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string PayloadTooLarge = "payload_too_large";
    public const string AuthenticationRequired = "authentication_required";
    public const string InvalidToken = "invalid_token";
    public const string InsufficientScope = "insufficient_scope";
    public const string RateLimited = "rate_limited";
    public const string ConcurrencyLimited = "concurrency_limited";
    public const string DeadlineExceeded = "deadline_exceeded";
    public const string HttpsRequired = "https_required";
    public const string HeadersTooLarge = "headers_too_large";
    public const string UriTooLong = "uri_too_long";
    public const string UpstreamUnavailable = "upstream_unavailable";
    public const string UpstreamTimeout = "upstream_timeout";
    public const string UpstreamError = "upstream_error";
    public const string BrokerUnavailable = "broker_unavailable";
    public const string QueueFull = "queue_full";
    public const string JobQuotaExceeded = "job_quota_exceeded";
    public const string IdempotencyKeyReused = "idempotency_key_reused";
    public const string RegistrationConflict = "registration_conflict";
    public const string InternalError = "internal_error";

    /// <summary>The code used when a framework component (routing, body parsing) produced the problem.</summary>
    public static string ForStatus(int status) => status switch
    {
        400 => ValidationFailed,
        401 => AuthenticationRequired,
        403 => InsufficientScope,
        404 => NotFound,
        405 => MethodNotAllowed,
        413 => PayloadTooLarge,
        414 => UriTooLong,
        431 => HeadersTooLarge,
        415 => UnsupportedMediaType,
        422 => ValidationFailed,
        429 => RateLimited,
        503 => UpstreamUnavailable,
        504 => UpstreamTimeout,
        _ when status >= 500 => InternalError,
        _ => $"http_{status}",
    };

    /// <summary>The problem <c>type</c> URI for a code; the same scheme python-inference uses.</summary>
    public static string TypeUri(string code) => $"urn:problem:{code}";
}
