using Gateway.Application;

namespace Gateway.Upstream.Worker;

/// <summary>The Worker's model registry as the gateway sees it.</summary>
public interface IRegistryClient
{
    /// <summary>Every registered version of the model, oldest first, with the active one marked.</summary>
    Task<Outcome<ModelVersionList>> ListVersionsAsync(string name, CancellationToken cancellationToken);

    /// <summary>Makes a registered version the active one (announced as <c>model.activated</c>).</summary>
    Task<Outcome<ModelVersionView>> ActivateAsync(string name, string version, CancellationToken cancellationToken);
}
