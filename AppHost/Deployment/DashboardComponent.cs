using k8s;
using k8s.Models;

namespace AppHost.Deployment;

/// <summary>
/// <c>components/dashboard</c>: the standalone Aspire dashboard as every service's OTLP endpoint, so an operator sees the
/// traces, logs and metrics <c>dotnet run</c> shows. No Ingress: it is reached with <c>kubectl port-forward</c>, and its
/// browser login token is printed in its log. OTLP needs no key: only the services' pods may reach that port.
/// </summary>
internal static class DashboardComponent
{
    public const string Folder = "components/dashboard";
    public const string Name = "aspire-dashboard";
    public const string Image = "mcr.microsoft.com/dotnet/aspire-dashboard:13.6";
    public const int FrontendPort = 18888;
    public const int OtlpGrpcPort = 18889;
    public const int OtlpHttpPort = 18890;
    private const string OtlpPolicy = "allow-otlp-to-dashboard";

    public static IEnumerable<KustomizeFile> Files(ClusterModel cluster, KubernetesDeploymentOptions options)
    {
        var services = cluster.Workloads.Where(workload => workload.IsService).Select(workload => workload.Name).ToList();
        var objects = new List<(string File, object Object)>
        {
            ("deployment.yaml", Deployment()),
            ("service.yaml", Service()),
            ("network-policy.yaml", DashboardPolicy(services)),
            ("otlp-network-policy.yaml", ExportPolicy(services)),
        };
        foreach (var (file, value) in objects)
        {
            yield return new KustomizeFile($"{Folder}/{file}", KubernetesYaml.Serialize(value));
        }

        yield return new KustomizeFile($"{Folder}/otel-config-patch.yaml", KubernetesYaml.Serialize(new V1ConfigMap
        {
            ApiVersion = "v1",
            Kind = "ConfigMap",
            Metadata = new V1ObjectMeta { Name = ClusterNames.TelemetryConfig },
            Data = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://{Name}:{OtlpHttpPort}" },
        }));
        yield return new KustomizeFile($"{Folder}/kustomization.yaml", KustomizeBaseBuilder.SerializeKustomization(
            new Dictionary<string, object>
            {
                ["apiVersion"] = "kustomize.config.k8s.io/v1alpha1",
                ["kind"] = "Component",
                ["resources"] = objects.Select(entry => entry.File).ToList(),
                ["patches"] = new[] { new Dictionary<string, string> { ["path"] = "otel-config-patch.yaml" } },
            }));
    }

    private static Dictionary<string, string> Labels() => KustomizeBaseBuilder.Labels(Name, "telemetry");

    private static V1Deployment Deployment() => new()
    {
        ApiVersion = "apps/v1",
        Kind = "Deployment",
        Metadata = new V1ObjectMeta { Name = Name, Labels = Labels() },
        Spec = new V1DeploymentSpec
        {
            Replicas = 1, // telemetry is kept in memory: one instance sees it all
            Selector = new V1LabelSelector { MatchLabels = KustomizeBaseBuilder.Selector(Name) },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = Labels() },
                Spec = new V1PodSpec
                {
                    AutomountServiceAccountToken = false,
                    EnableServiceLinks = false,
                    SecurityContext = new V1PodSecurityContext
                    {
                        RunAsNonRoot = true, RunAsUser = ClusterModelReader.DotNetUser, RunAsGroup = ClusterModelReader.DotNetUser,
                        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                    },
                    Containers =
                    [
                        new V1Container
                        {
                            Name = Name,
                            Image = Image,
                            Ports =
                            [
                                new V1ContainerPort { Name = "frontend", ContainerPort = FrontendPort, Protocol = "TCP" },
                                new V1ContainerPort { Name = "otlp-grpc", ContainerPort = OtlpGrpcPort, Protocol = "TCP" },
                                new V1ContainerPort { Name = "otlp-http", ContainerPort = OtlpHttpPort, Protocol = "TCP" },
                            ],
                            Env =
                            [
                                new V1EnvVar { Name = "DASHBOARD__FRONTEND__AUTHMODE", Value = "BrowserToken" },
                                new V1EnvVar { Name = "DASHBOARD__OTLP__AUTHMODE", Value = "Unsecured" },
                            ],
                            Resources = new V1ResourceRequirements
                            {
                                Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("100m"), ["memory"] = new("256Mi") },
                                Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1"), ["memory"] = new("1Gi") },
                            },
                            ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "frontend" }, PeriodSeconds = 10 },
                            LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "frontend" }, PeriodSeconds = 30 },
                            SecurityContext = new V1SecurityContext
                            {
                                RunAsNonRoot = true, ReadOnlyRootFilesystem = true, AllowPrivilegeEscalation = false,
                                Capabilities = new V1Capabilities { Drop = ["ALL"] },
                                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                            },
                            VolumeMounts = [new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
                        },
                    ],
                    Volumes = [new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() }],
                },
            },
        },
    };

    private static V1Service Service() => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = Name, Labels = Labels() },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            IpFamilyPolicy = "PreferDualStack",
            Selector = KustomizeBaseBuilder.Selector(Name),
            Ports =
            [
                new V1ServicePort { Name = "frontend", Port = FrontendPort, TargetPort = "frontend", Protocol = "TCP", AppProtocol = "http" },
                new V1ServicePort { Name = "otlp-grpc", Port = OtlpGrpcPort, TargetPort = "otlp-grpc", Protocol = "TCP", AppProtocol = "kubernetes.io/h2c" },
                new V1ServicePort { Name = "otlp-http", Port = OtlpHttpPort, TargetPort = "otlp-http", Protocol = "TCP", AppProtocol = "http" },
            ],
        },
    };

    private static V1LabelSelector ServicesSelector(List<string> services) => new()
    {
        MatchExpressions = [new V1LabelSelectorRequirement { Key = "app.kubernetes.io/name", OperatorProperty = "In", Values = services }],
    };

    private static List<V1NetworkPolicyPort> OtlpPorts() =>
    [
        new() { Protocol = "TCP", Port = OtlpGrpcPort },
        new() { Protocol = "TCP", Port = OtlpHttpPort },
    ];

    /// <summary>The dashboard takes OTLP from the services only and calls nothing (port-forward bypasses policies).</summary>
    private static V1NetworkPolicy DashboardPolicy(List<string> services) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = new V1ObjectMeta { Name = Name, Labels = Labels() },
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = new V1LabelSelector { MatchLabels = KustomizeBaseBuilder.Selector(Name) },
            PolicyTypes = ["Ingress", "Egress"],
            Ingress = [new V1NetworkPolicyIngressRule { FromProperty = [new V1NetworkPolicyPeer { PodSelector = ServicesSelector(services) }], Ports = OtlpPorts() }],
            Egress = [],
        },
    };

    private static V1NetworkPolicy ExportPolicy(List<string> services) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = new V1ObjectMeta { Name = OtlpPolicy, Labels = Labels() },
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = ServicesSelector(services),
            PolicyTypes = ["Egress"],
            Egress =
            [
                new V1NetworkPolicyEgressRule
                {
                    To = [new V1NetworkPolicyPeer { PodSelector = new V1LabelSelector { MatchLabels = KustomizeBaseBuilder.Selector(Name) } }],
                    Ports = OtlpPorts(),
                },
            ],
        },
    };
}
