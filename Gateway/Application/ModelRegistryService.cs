using Gateway.Upstream.Worker;

namespace Gateway.Application;

/// <summary>The model registry, which the Worker hosts: reading a model's versions and choosing the one served.</summary>
public sealed class ModelRegistryService(IRegistryClient registry)
{
    public Task<Outcome<ModelVersionList>> ListVersionsAsync(string name, CancellationToken cancellationToken) =>
        registry.ListVersionsAsync(name, cancellationToken);

    public async Task<Outcome<ModelVersionView>> ActivateAsync(string name, ActivationRequest request,
        CancellationToken cancellationToken) =>
        string.IsNullOrWhiteSpace(request.Version)
            ? ModelInputValidation.Invalid(new Dictionary<string, string[]> { ["version"] = ["Required."] })
            : await registry.ActivateAsync(name, request.Version, cancellationToken);
}
