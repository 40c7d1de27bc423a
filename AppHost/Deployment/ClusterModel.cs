namespace AppHost.Deployment;

/// <summary>How a resource of the application model runs in the cluster: what the kustomize base is written from.</summary>
internal sealed class Workload(string name, bool stateful)
{
    public string Name { get; } = name;

    /// <summary>A StatefulSet with a volume claim (a broker or database), else a Deployment with an autoscaler.</summary>
    public bool Stateful { get; } = stateful;

    /// <summary>Run by someone else (Messaging:Runtime or Database:Runtime external): only its Secret (the connection
    /// strings) and the egress to it are published.</summary>
    public bool External { get; init; }

    /// <summary>One of our services: a Deployment with an autoscaler.</summary>
    public bool IsService => !Stateful && !External;

    /// <summary>The image name kustomize's <c>images:</c> rewrites (ours), or a full public image reference.</summary>
    public required string Image { get; init; }

    /// <summary>Built by us (a .NET project or our Dockerfile), so its registry and tag come from the image parameters.</summary>
    public bool BuiltHere { get; init; }

    public int Replicas { get; init; } = 1;

    public int RunAsUser { get; init; }

    /// <summary>A .NET project: its OTLP exporter speaks http/protobuf (python-inference's speaks http/json).</summary>
    public bool DotNet { get; init; }

    public List<ClusterPort> Ports { get; } = [];

    /// <summary>Ports callers reach on each pod directly (gRPC balanced by the caller): its headless Service exposes them.</summary>
    public SortedSet<string> PodAddressedPorts { get; } = new(StringComparer.Ordinal);

    /// <summary>The container's arguments (none: the image's own command).</summary>
    public List<string> Args { get; } = [];

    public List<ClusterEnvVar> Env { get; } = [];

    /// <summary>Plain settings, written to the workload's ConfigMap and read from it by key.</summary>
    public SortedDictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys of this workload's Secret (secret parameters it owns), each with what it is for.</summary>
    public SortedDictionary<string, string> SecretKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>Folders the process writes to: an emptyDir each, since the root filesystem is read-only.</summary>
    public List<string> WritablePaths { get; } = ["/tmp"];

    /// <summary>The volume claim's mount path (StatefulSets).</summary>
    public string? DataPath { get; init; }

    /// <summary>HTTP health endpoints on the port named here: /health (readiness) and /alive (liveness).</summary>
    public string? HealthPort { get; init; }

    /// <summary>Reachable from outside the cluster, through the Ingress (endpoints marked external in the model).</summary>
    public bool Public { get; init; }

    public required ResourceProfile Resources { get; init; }

    public ClusterPort Port(string name) => Ports.Single(port => port.Name == name);
}

/// <summary>A port of a workload; the Service exposes it under the same number.</summary>
internal sealed record ClusterPort(string Name, int Number, string Scheme, bool Http2);

/// <summary>An environment variable: a ConfigMap key, a Secret key, or an inline value that expands other variables.</summary>
internal sealed record ClusterEnvVar(
    string Name, string? ConfigKey = null, SecretReference? Secret = null, string? InlineValue = null, string? ConfigMapName = null);

internal sealed record SecretReference(string SecretName, string Key);

/// <summary>A network path the architecture needs: <paramref name="From"/> calls <paramref name="To"/> on these ports.</summary>
internal sealed record ClusterEdge(string From, string To, IReadOnlySet<string> PortNames);

internal sealed record ResourceProfile(string CpuRequest, string MemoryRequest, string CpuLimit, string MemoryLimit);

internal sealed class ClusterModel
{
    public List<Workload> Workloads { get; } = [];

    public List<ClusterEdge> Edges { get; } = [];

    public Workload this[string name] => Workloads.Single(workload => workload.Name == name);

    public Workload? Find(string name) => Workloads.SingleOrDefault(workload => workload.Name == name);
}
