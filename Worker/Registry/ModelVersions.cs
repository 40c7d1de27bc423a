using Worker.Security;

namespace Worker.Registry;

/// <summary>
/// A model version as the registry stores it; <see cref="Active"/> says whether it is the one served, and for that one
/// <see cref="ActivatedAt"/> and <see cref="ActivatedBy"/> when and by whom it was made active (the caller, and the user
/// it acted for; absent for an activation from before this was recorded).
/// </summary>
public sealed record RegisteredVersion(
    string Name,
    string Version,
    string InputKind,
    IReadOnlyList<string> Labels,
    IReadOnlyDictionary<string, double> Metrics,
    string ArtifactSha256,
    string Description,
    DateTimeOffset? CreatedAt,
    DateTimeOffset RegisteredAt,
    bool Active,
    DateTimeOffset? ActivatedAt = null,
    Caller? ActivatedBy = null);

/// <summary>A version to register: what training produced, before the registry stamps and activates it.</summary>
public sealed record NewModelVersion(
    string Name,
    string Version,
    string InputKind,
    IReadOnlyList<string> Labels,
    IReadOnlyDictionary<string, double> Metrics,
    string ArtifactSha256,
    string Description,
    DateTimeOffset? CreatedAt);

public enum RegistrationStatus
{
    /// <summary>A new version was stored (and made active if it is its model's first).</summary>
    Created,

    /// <summary>The same artifact was registered under this name and version before; nothing changed.</summary>
    AlreadyRegistered,

    /// <summary>Another artifact is registered under this name and version; nothing changed.</summary>
    Conflict,
}

/// <summary>The outcome of a registration and the version as stored (the existing one unless it was created).</summary>
public sealed record Registration(RegistrationStatus Status, RegisteredVersion Version);

public enum ActivationStatus
{
    /// <summary>The version became active and <c>model.activated</c> was written to the outbox with it.</summary>
    Activated,

    /// <summary>It was active already; nothing was written or announced.</summary>
    AlreadyActive,

    /// <summary>No model of that name.</summary>
    ModelNotFound,

    /// <summary>The model exists but has no such version.</summary>
    VersionNotFound,
}

/// <summary>The outcome of an activation; <see cref="Version"/> is the now-active version unless nothing was found.</summary>
public sealed record Activation(ActivationStatus Status, RegisteredVersion? Version);

/// <summary>A model's registered versions, oldest first, and which one is active.</summary>
public sealed record ModelVersionList(string Name, string? ActiveVersion, IReadOnlyList<RegisteredVersion> Versions);
