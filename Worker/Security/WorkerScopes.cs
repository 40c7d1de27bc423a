namespace Worker.Security;

/// <summary>
/// What a caller may do at the Worker; each is also the name of the authorization policy that requires it. A token's
/// scopes count only as far as its caller is allowed them (<see cref="CallerOptions.Scopes"/>).
/// </summary>
public static class WorkerScopes
{
    /// <summary>Reading a model's versions (a user's <c>predict</c>, through the gateway).</summary>
    public const string Predict = "predict";

    /// <summary>Submitting and reading the acting user's own jobs, and their webhook signing key.</summary>
    public const string Jobs = "jobs";

    /// <summary>Activating a model version; reading the audit log.</summary>
    public const string Admin = "admin";

    /// <summary>Registering a model version (python-inference).</summary>
    public const string RegistryRegister = "registry.register";

    /// <summary>Reading a model's active version (python-inference).</summary>
    public const string RegistryRead = "registry.read";

    public static readonly IReadOnlyList<string> All = [Predict, Jobs, Admin, RegistryRegister, RegistryRead];
}
