namespace Gateway.Upstream.Worker;

/// <summary>A registered model version, as the Worker's registry describes it; <c>active</c> is the one served.</summary>
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
    bool Active);

/// <summary>A model's registered versions, oldest first, and the active one.</summary>
public sealed record ModelVersionList(string Name, string? ActiveVersion, IReadOnlyList<ModelVersionView> Versions);

/// <summary>The body of an activation: the version to serve.</summary>
public sealed record ActivationRequest(string? Version);
