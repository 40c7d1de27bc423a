using Worker.Security;

namespace Worker.Registry;

/// <summary>
/// The model registry: versions of each model and the active one, in the Worker's database. Activating a version
/// and announcing it (<c>model.activated</c> in the outbox) commit together.
/// </summary>
public interface IModelRegistryStore
{
    /// <summary>
    /// Stores a version. The same (name, version) with the same artifact hash again is a no-op; with another hash,
    /// a conflict. A model's first version becomes active (and is announced like any activation), activated by
    /// <paramref name="by"/>, the caller registering it.
    /// </summary>
    Task<Registration> RegisterAsync(NewModelVersion version, Caller by, CancellationToken cancellationToken);

    /// <summary>Every version of the model, oldest first; null for an unknown model.</summary>
    Task<ModelVersionList?> ListAsync(string name, CancellationToken cancellationToken);

    /// <summary>The model's active version; null for an unknown model.</summary>
    Task<RegisteredVersion?> FindActiveAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Makes a registered version the active one, recording <paramref name="by"/> with it and in its announcement;
    /// activating the active version changes nothing.
    /// </summary>
    Task<Activation> ActivateAsync(string name, string version, Caller by, CancellationToken cancellationToken);
}
