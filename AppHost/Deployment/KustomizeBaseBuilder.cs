using k8s;
using k8s.Models;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace AppHost.Deployment;

/// <summary>
/// The kustomize base: <c>kustomization.yaml</c> at the root, one folder per resource (Deployment or StatefulSet,
/// Service, ConfigMap, Secret generator, autoscaler, disruption budget, network policy; the Ingress for the public
/// one), the shared telemetry settings, the namespace-wide network policies, and the optional dashboard component.
/// Every object is a typed KubernetesClient model serialized with its YAML serializer.
/// </summary>
internal sealed class KustomizeBaseBuilder(
    ClusterModel cluster,
    KubernetesDeploymentOptions options,
    ImageSettings images,
    IEnumerable<(string Owner, string Key)> secretKeys)
{
    public const string PartOf = "ml-gateway";
    public const string SecretsFile = "secrets.env";
    public const string TelemetryFolder = "telemetry";
    public const string NetworkPoliciesFolder = "network-policies";

    private readonly List<KustomizeFile> _files = [];

    public IReadOnlyList<KustomizeFile> Build()
    {
        foreach (var (owner, key) in secretKeys)
        {
            cluster[owner].SecretKeys[key] = cluster[owner].External
                ? $"connection string '{key}' of the external service"
                : $"secret parameter '{key}' of the application model (letters and digits: it may be part of a connection string or URI)";
        }

        var folders = new List<string> { TelemetryFolder, NetworkPoliciesFolder };
        AddFolder(TelemetryFolder, [("otel-config.yaml", TelemetryConfig())]);
        AddFolder(NetworkPoliciesFolder,
            [("default-deny.yaml", NetworkPolicies.DefaultDeny()), ("allow-dns.yaml", NetworkPolicies.AllowDns())]);

        foreach (var workload in cluster.Workloads)
        {
            folders.Add(workload.Name);
            AddWorkloadFolder(workload);
        }

        var kustomization = new Dictionary<string, object>
        {
            ["apiVersion"] = "kustomize.config.k8s.io/v1beta1",
            ["kind"] = "Kustomization",
            ["labels"] = new[]
            {
                new Dictionary<string, object>
                {
                    ["pairs"] = new Dictionary<string, string> { ["app.kubernetes.io/part-of"] = PartOf },
                    ["includeSelectors"] = false,
                },
            },
            ["resources"] = folders,
            ["images"] = cluster.Workloads.Where(workload => workload.BuiltHere).Select(workload => new Dictionary<string, string>
            {
                ["name"] = workload.Image,
                ["newName"] = $"{images.Registry.TrimEnd('/')}/{workload.Image}",
                ["newTag"] = images.Tag,
            }).ToList(),
        };
        _files.Add(new KustomizeFile("kustomization.yaml", SerializeKustomization(kustomization)));
        // The operator's filled-in secrets stay out of git; the examples are committed.
        _files.Add(new KustomizeFile(".gitignore", "*.env\n!*.env.example\n"));
        _files.AddRange(DashboardComponent.Files(cluster, options));
        return _files;
    }

    private void AddWorkloadFolder(Workload workload)
    {
        var objects = workload.External ? new List<(string File, object Object)>() : new List<(string File, object Object)>
        {
            (workload.Stateful ? "statefulset.yaml" : "deployment.yaml", workload.Stateful ? StatefulSet(workload) : Deployment(workload)),
            ("service.yaml", Service(workload)),
            ("config.yaml", Config(workload)),
            ("network-policy.yaml", NetworkPolicies.For(workload, cluster, options)),
        };
        if (workload.PodAddressedPorts.Count > 0)
        {
            objects.Insert(2, ("service-headless.yaml", HeadlessService(workload)));
        }
        if (workload.IsService)
        {
            objects.Add(("hpa.yaml", Autoscaler(workload)));
            objects.Add(("pdb.yaml", DisruptionBudget(workload)));
        }

        if (workload.Public)
        {
            objects.Add(("ingress.yaml", Ingress(workload)));
        }

        var generators = new List<Dictionary<string, object>>();
        if (workload.SecretKeys.Count > 0)
        {
            generators.Add(new Dictionary<string, object>
            {
                ["name"] = ClusterNames.Secret(workload.Name),
                ["envs"] = new[] { SecretsFile },
            });
            var example = $"# {ClusterNames.Secret(workload.Name)}: copy to {SecretsFile} (git-ignored) and fill in every value.\n" +
                          string.Concat(workload.SecretKeys.Select(pair => $"# {pair.Value}\n{pair.Key}=\n"));
            _files.Add(new KustomizeFile($"{workload.Name}/{SecretsFile}.example", example));
        }

        AddFolder(workload.Name, objects, generators);
    }

    private void AddFolder(string folder, List<(string File, object Object)> objects,
        List<Dictionary<string, object>>? secretGenerator = null)
    {
        foreach (var (file, value) in objects)
        {
            _files.Add(new KustomizeFile($"{folder}/{file}", KubernetesYaml.Serialize(value)));
        }

        var kustomization = new Dictionary<string, object>
        {
            ["apiVersion"] = "kustomize.config.k8s.io/v1beta1",
            ["kind"] = "Kustomization",
            ["resources"] = objects.Select(entry => entry.File).ToList(),
        };
        if (secretGenerator is { Count: > 0 })
        {
            kustomization["secretGenerator"] = secretGenerator;
        }

        _files.Add(new KustomizeFile($"{folder}/kustomization.yaml", SerializeKustomization(kustomization)));
    }

    internal static string SerializeKustomization(object kustomization) =>
        new SerializerBuilder().WithNamingConvention(NullNamingConvention.Instance).Build().Serialize(kustomization);

    internal static Dictionary<string, string> Labels(string name, string component) => new()
    {
        ["app.kubernetes.io/name"] = name,
        ["app.kubernetes.io/component"] = component,
        ["app.kubernetes.io/part-of"] = PartOf,
    };

    internal static Dictionary<string, string> Selector(string name) => new() { ["app.kubernetes.io/name"] = name };

    private static string Component(Workload workload) => workload.Stateful ? "backing-service" : "service";

    private V1ConfigMap TelemetryConfig() => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Metadata = new V1ObjectMeta { Name = ClusterNames.TelemetryConfig, Labels = Labels("otel", "telemetry") },
        Data = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = options.OtlpEndpoint,
            ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio",
            ["OTEL_TRACES_SAMPLER_ARG"] = options.TraceSamplingRatio.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
    };

    private static V1ConfigMap Config(Workload workload)
    {
        return new V1ConfigMap
        {
            ApiVersion = "v1",
            Kind = "ConfigMap",
            Metadata = new V1ObjectMeta { Name = ClusterNames.Config(workload.Name), Labels = Labels(workload.Name, Component(workload)) },
            Data = new Dictionary<string, string>(workload.Settings),
        };
    }

    private static V1Deployment Deployment(Workload workload) => new()
    {
        ApiVersion = "apps/v1",
        Kind = "Deployment",
        Metadata = new V1ObjectMeta { Name = workload.Name, Labels = Labels(workload.Name, Component(workload)) },
        Spec = new V1DeploymentSpec
        {
            // No replicas: the autoscaler owns the count (its minimum is the model's), and a re-apply must not reset it.
            Selector = new V1LabelSelector { MatchLabels = Selector(workload.Name) },
            Strategy = new V1DeploymentStrategy
            {
                Type = "RollingUpdate",
                RollingUpdate = new V1RollingUpdateDeployment { MaxUnavailable = 0, MaxSurge = 1 },
            },
            Template = PodTemplate(workload),
        },
    };

    private V1StatefulSet StatefulSet(Workload workload) => new()
    {
        ApiVersion = "apps/v1",
        Kind = "StatefulSet",
        Metadata = new V1ObjectMeta { Name = workload.Name, Labels = Labels(workload.Name, Component(workload)) },
        Spec = new V1StatefulSetSpec
        {
            ServiceName = ClusterNames.Service(workload.Name),
            Replicas = 1,
            Selector = new V1LabelSelector { MatchLabels = Selector(workload.Name) },
            Template = PodTemplate(workload),
            VolumeClaimTemplates =
            [
                new V1PersistentVolumeClaim
                {
                    Metadata = new V1ObjectMeta { Name = "data" },
                    Spec = new V1PersistentVolumeClaimSpec
                    {
                        AccessModes = ["ReadWriteOnce"],
                        Resources = new V1VolumeResourceRequirements
                        {
                            Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new(options.StorageSize) },
                        },
                    },
                },
            ],
        },
    };

    private static V1PodTemplateSpec PodTemplate(Workload workload)
    {
        var volumes = new List<V1Volume>();
        var mounts = new List<V1VolumeMount>();
        var writable = workload.WritablePaths.ToList();
        var env = workload.Env.Select(ToEnvVar).ToList();
        if (workload.DataPath is { } dataPath)
        {
            mounts.Add(new V1VolumeMount { Name = "data", MountPath = dataPath });
            if (dataPath.StartsWith("/var/lib/postgresql", StringComparison.Ordinal))
            {
                // A subfolder: the volume's root may hold lost+found, which initdb refuses.
                env.Add(new V1EnvVar { Name = "PGDATA", Value = $"{dataPath}/pgdata" });
                writable.Add("/var/run/postgresql");
            }
        }

        foreach (var (path, index) in writable.Select((path, index) => (path, index)))
        {
            var name = $"writable-{index}";
            volumes.Add(new V1Volume { Name = name, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity("256Mi") } });
            mounts.Add(new V1VolumeMount { Name = name, MountPath = path });
        }

        var container = new V1Container
        {
            Name = workload.Name,
            Image = workload.Image,
            ImagePullPolicy = "IfNotPresent",
            Args = workload.Args.Count > 0 ? [.. workload.Args] : null,
            Ports = workload.Ports.Select(port => new V1ContainerPort
            {
                Name = port.Name, ContainerPort = port.Number, Protocol = "TCP",
            }).ToList(),
            Env = env,
            Resources = new V1ResourceRequirements
            {
                Requests = new Dictionary<string, ResourceQuantity>
                {
                    ["cpu"] = new(workload.Resources.CpuRequest), ["memory"] = new(workload.Resources.MemoryRequest),
                },
                Limits = new Dictionary<string, ResourceQuantity>
                {
                    ["cpu"] = new(workload.Resources.CpuLimit), ["memory"] = new(workload.Resources.MemoryLimit),
                },
            },
            SecurityContext = new V1SecurityContext
            {
                RunAsNonRoot = true,
                ReadOnlyRootFilesystem = true,
                AllowPrivilegeEscalation = false,
                Capabilities = new V1Capabilities { Drop = ["ALL"] },
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            VolumeMounts = mounts,
        };
        Probes.Apply(container, workload);

        return new V1PodTemplateSpec
        {
            Metadata = new V1ObjectMeta { Labels = Labels(workload.Name, Component(workload)) },
            Spec = new V1PodSpec
            {
                AutomountServiceAccountToken = false,
                EnableServiceLinks = false,
                SecurityContext = new V1PodSecurityContext
                {
                    RunAsNonRoot = true,
                    RunAsUser = workload.RunAsUser,
                    RunAsGroup = workload.RunAsUser,
                    FsGroup = workload.RunAsUser,
                    SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                },
                Containers = [container],
                Volumes = volumes,
            },
        };
    }

    private static V1EnvVar ToEnvVar(ClusterEnvVar variable) => variable switch
    {
        { Secret: { } secret } => new V1EnvVar
        {
            Name = variable.Name,
            ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = secret.SecretName, Key = secret.Key } },
        },
        { ConfigKey: { } key } => new V1EnvVar
        {
            Name = variable.Name,
            ValueFrom = new V1EnvVarSource
            {
                ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = variable.ConfigMapName ?? "", Key = key },
            },
        },
        _ => new V1EnvVar { Name = variable.Name, Value = variable.InlineValue },
    };

    private static V1Service Service(Workload workload) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = ClusterNames.Service(workload.Name), Labels = Labels(workload.Name, Component(workload)) },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            IpFamilyPolicy = "PreferDualStack",
            Selector = Selector(workload.Name),
            Ports = workload.Ports.Select(port => new V1ServicePort
            {
                Name = port.Name,
                Port = port.Number,
                TargetPort = port.Name,
                Protocol = "TCP",
                AppProtocol = port.Http2 ? "kubernetes.io/h2c" : port.Scheme is "http" ? "http" : null,
            }).ToList(),
        },
    };

    /// <summary>
    /// No cluster IP: the name resolves to the addresses of the ready pods, which a caller's gRPC channel connects to
    /// one by one (<see cref="Workload.PodAddressedPorts"/>). Single-stack, so a pod is one address, not two.
    /// </summary>
    private static V1Service HeadlessService(Workload workload) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta
        {
            Name = ClusterNames.HeadlessService(workload.Name), Labels = Labels(workload.Name, Component(workload)),
        },
        Spec = new V1ServiceSpec
        {
            ClusterIP = "None",
            IpFamilyPolicy = "SingleStack",
            Selector = Selector(workload.Name),
            Ports = workload.Ports.Where(port => workload.PodAddressedPorts.Contains(port.Name)).Select(port => new V1ServicePort
            {
                Name = port.Name,
                Port = port.Number,
                TargetPort = port.Name,
                Protocol = "TCP",
                AppProtocol = "kubernetes.io/h2c",
            }).ToList(),
        },
    };

    private V2HorizontalPodAutoscaler Autoscaler(Workload workload)
    {
        var settings = options.Autoscaling.GetValueOrDefault(workload.Name) ?? new AutoscalingOptions();
        var min = settings.MinReplicas ?? workload.Replicas;
        var max = Math.Max(min, settings.MaxReplicas ?? options.MaxReplicas);
        return new V2HorizontalPodAutoscaler
        {
            ApiVersion = "autoscaling/v2",
            Kind = "HorizontalPodAutoscaler",
            Metadata = new V1ObjectMeta { Name = workload.Name, Labels = Labels(workload.Name, Component(workload)) },
            Spec = new V2HorizontalPodAutoscalerSpec
            {
                ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = workload.Name },
                MinReplicas = min,
                MaxReplicas = max,
                Metrics =
                [
                    new V2MetricSpec
                    {
                        Type = "Resource",
                        Resource = new V2ResourceMetricSource
                        {
                            Name = "cpu",
                            Target = new V2MetricTarget
                            {
                                Type = "Utilization",
                                AverageUtilization = settings.TargetCpuUtilizationPercentage ?? options.TargetCpuUtilizationPercentage,
                            },
                        },
                    },
                ],
            },
        };
    }

    private static V1PodDisruptionBudget DisruptionBudget(Workload workload) => new()
    {
        ApiVersion = "policy/v1",
        Kind = "PodDisruptionBudget",
        Metadata = new V1ObjectMeta { Name = workload.Name, Labels = Labels(workload.Name, Component(workload)) },
        // One pod at a time: drains proceed even at one replica, and never take a whole service down at once.
        Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = 1, Selector = new V1LabelSelector { MatchLabels = Selector(workload.Name) } },
    };

    private V1Ingress Ingress(Workload workload) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "Ingress",
        Metadata = new V1ObjectMeta { Name = workload.Name, Labels = Labels(workload.Name, Component(workload)) },
        Spec = new V1IngressSpec
        {
            IngressClassName = options.IngressClassName,
            Tls = [new V1IngressTLS { Hosts = [options.IngressHost], SecretName = options.IngressTlsSecretName }],
            Rules =
            [
                new V1IngressRule
                {
                    Host = options.IngressHost,
                    Http = new V1HTTPIngressRuleValue
                    {
                        Paths =
                        [
                            new V1HTTPIngressPath
                            {
                                Path = "/",
                                PathType = "Prefix",
                                Backend = new V1IngressBackend
                                {
                                    Service = new V1IngressServiceBackend
                                    {
                                        Name = ClusterNames.Service(workload.Name),
                                        Port = new V1ServiceBackendPort { Name = workload.HealthPort ?? "http" },
                                    },
                                },
                            },
                        ],
                    },
                },
            ],
        },
    };
}

internal sealed record KustomizeFile(string Path, string Content);
