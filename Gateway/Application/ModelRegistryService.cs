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
        registry.ListVersionsAsync(name, SubjectOf(caller), cancellationToken);

    public async Task<Outcome<ModelVersionView>> ActivateAsync(string name, ActivationRequest request, ClaimsPrincipal caller,
        CancellationToken cancellationToken) =>
        string.IsNullOrWhiteSpace(request.Version)
            ? ModelInputValidation.Invalid(new Dictionary<string, string[]> { ["version"] = ["Required."] })
            : await registry.ActivateAsync(name, request.Version, SubjectOf(caller), cancellationToken);

    // The gateway accepts no token without a subject (see AddGatewayAuthentication).
    private static string SubjectOf(ClaimsPrincipal caller) =>
        Scopes.SubjectOf(caller) ?? throw new InvalidOperationException("An authenticated caller has no subject.");
}
