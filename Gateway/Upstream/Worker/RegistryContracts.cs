namespace Gateway.Upstream.Worker;

/// <summary>
/// A registered model version, as the Worker's registry describes it; <c>active</c> is the one served, and for it
/// <c>activatedAt</c> and <c>activatedBy</c> say when and by whom it was made active.
/// </summary>
public sealed record ModelVersionView(
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
    ModelActivator? ActivatedBy = null);

/// <summary>Who activated a version: the service that called the registry and the user it acted for (null: itself).</summary>
public sealed record ModelActivator(string Service, string? User);

/// <summary>A model's registered versions, oldest first, and the active one.</summary>
public sealed record ModelVersionList(string Name, string? ActiveVersion, IReadOnlyList<ModelVersionView> Versions);

/// <summary>The body of an activation: the version to serve.</summary>
public sealed record ActivationRequest(string? Version);
