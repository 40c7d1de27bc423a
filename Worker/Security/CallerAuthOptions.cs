using System.ComponentModel.DataAnnotations;

namespace Worker.Security;

/// <summary>
/// Who may call the Worker (section <c>Auth</c>): each caller is a service that signs short-lived tokens (HS256) with a
/// key of its own, naming itself as issuer and the Worker as audience. The Worker decides what each may do.
/// </summary>
public sealed class CallerAuthOptions : IValidatableObject
{
    public const string SectionName = "Auth";

    /// <summary>The audience every token must name.</summary>
    [Required]
    public string Audience { get; set; } = "worker";

    /// <summary>The longest lifetime (<c>exp</c> − <c>iat</c>) a token may have: a leaked token is worth little.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00")]
    public TimeSpan MaxTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How far a caller's clock and the Worker's may disagree on expiry and not-before.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The callers by issuer name (<c>gateway</c>, <c>python-inference</c>, <c>dashboard</c>).</summary>
    public Dictionary<string, CallerOptions> Callers { get; set; } = new(StringComparer.Ordinal);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, caller) in Callers)
        {
            if (caller.SigningKey is not { Length: >= CallerOptions.MinKeyLength } && !(caller.Optional && string.IsNullOrEmpty(caller.SigningKey)))
            {
                yield return new ValidationResult(
                    $"Auth:Callers:{name}:SigningKey must be at least {CallerOptions.MinKeyLength} characters " +
                    "(the AppHost passes the caller's secret parameter).", [nameof(Callers)]);
            }

            if (caller.Scopes.Contains(WorkerScopes.Jobs) && !caller.ActsForUsers)
            {
                yield return new ValidationResult(
                    $"Auth:Callers:{name} holds the scope jobs, which is a user's: it must act for users (ActsForUsers).", [nameof(Callers)]);
            }

            foreach (var scope in caller.Scopes.Where(scope => !WorkerScopes.All.Contains(scope)))
            {
                yield return new ValidationResult($"Auth:Callers:{name}:Scopes has the unknown scope '{scope}'.", [nameof(Callers)]);
            }
        }
    }
}

/// <summary>One calling service: its key, what it may do, and whether it acts for users (its tokens name one).</summary>
public sealed class CallerOptions
{
    /// <summary>32 characters or more; the HMAC key is its UTF-8 bytes.</summary>
    public const int MinKeyLength = 32;

    public string? SigningKey { get; set; }

    /// <summary>The scopes this caller may hold (of <see cref="WorkerScopes.All"/>); a token's other scopes are ignored.</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>Its tokens carry the acting user as <c>sub</c> (the gateway); otherwise the caller acts for itself.</summary>
    public bool ActsForUsers { get; set; }

    /// <summary>
    /// A caller that exists only where it is given a key (the AppHost's dashboard, when it runs the application
    /// locally): without one, the Worker starts and accepts none of its tokens. A key given must still be long enough.
    /// </summary>
    public bool Optional { get; set; }

    /// <summary>Whether tokens of this caller are accepted: it has a key.</summary>
    public bool Enabled => !string.IsNullOrEmpty(SigningKey);
}
