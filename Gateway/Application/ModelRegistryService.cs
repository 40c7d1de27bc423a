using System.Security.Claims;
using Gateway.Security;
using Gateway.Upstream.Worker;

namespace Gateway.Application;

/// <summary>
/// The model registry, which the Worker hosts: reading a model's versions and choosing the one served, each for the
/// caller, whom the registry records with an activation.
/// </summary>
public sealed class ModelRegistryService(IRegistryClient registry)
{
    public Task<Outcome<ModelVersionList>> ListVersionsAsync(string name, ClaimsPrincipal caller, CancellationToken cancellationToken) =>
        registry.ListVersionsAsync(name, CallerOf(caller), cancellationToken);

    public async Task<Outcome<ModelVersionView>> ActivateAsync(string name, ActivationRequest request, ClaimsPrincipal caller,
        CancellationToken cancellationToken) =>
        string.IsNullOrWhiteSpace(request.Version)
            ? ModelInputValidation.Invalid(new Dictionary<string, string[]> { ["version"] = ["Required."] })
            : await registry.ActivateAsync(name, request.Version, CallerOf(caller), cancellationToken);

    // The same identity that owns jobs (issuer and subject); the gateway accepts no token without a subject.
    private static string CallerOf(ClaimsPrincipal caller) =>
        Scopes.CallerOf(caller) ?? throw new InvalidOperationException("An authenticated caller has no issuer and subject.");
}
