using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>The Worker's model registry as the gateway sees it.</summary>
public interface IRegistryClient
{
    /// <summary>Every registered version of the model, oldest first, with the active one marked; asked for <paramref name="user"/>.</summary>
    Task<Outcome<ModelVersionList>> ListVersionsAsync(string name, string user, CancellationToken cancellationToken);

    /// <summary>
    /// Makes a registered version the active one (announced as <c>model.activated</c>); the registry records
    /// <paramref name="user"/> as the one who did.
    /// </summary>
    Task<Outcome<ModelVersionView>> ActivateAsync(string name, string version, string user, CancellationToken cancellationToken);
}
