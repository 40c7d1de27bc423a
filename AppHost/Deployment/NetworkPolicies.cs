using k8s.Models;

namespace AppHost.Deployment;

/// <summary>
/// Deny everything, then allow exactly the arrows of the architecture: the ingress controller to the public service,
/// each reference of the model (caller to callee, on the callee's referenced ports), DNS, and the Worker's webhooks
/// to public addresses. Each workload's policy states both ends: its callers (ingress) and its callees (egress).
/// </summary>
internal static class NetworkPolicies
{
    private static readonly string[] PrivateIPv4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "127.0.0.0/8"];
    private static readonly string[] PrivateIPv6 = ["fc00::/7", "fe80::/10", "::1/128"];
    public const string WebhookSender = "worker";

    public static V1NetworkPolicy DefaultDeny() => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = new V1ObjectMeta { Name = "default-deny", Labels = KustomizeBaseBuilder.Labels("default-deny", "network-policy") },
        Spec = new V1NetworkPolicySpec { PodSelector = new V1LabelSelector(), PolicyTypes = ["Ingress", "Egress"] },
    };

    public static V1NetworkPolicy AllowDns() => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = new V1ObjectMeta { Name = "allow-dns", Labels = KustomizeBaseBuilder.Labels("allow-dns", "network-policy") },
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = new V1LabelSelector(),
            PolicyTypes = ["Egress"],
            Egress =
            [
                new V1NetworkPolicyEgressRule
                {
                    To =
                    [
                        new V1NetworkPolicyPeer
                        {
                            NamespaceSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "kube-system" } },
                            PodSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["k8s-app"] = "kube-dns" } },
                        },
                    ],
                    Ports = [new V1NetworkPolicyPort { Protocol = "UDP", Port = 53 }, new V1NetworkPolicyPort { Protocol = "TCP", Port = 53 }],
                },
            ],
        },
    };

    public static V1NetworkPolicy For(Workload workload, ClusterModel cluster, KubernetesDeploymentOptions options)
    {
        var ingress = cluster.Edges.Where(edge => edge.To == workload.Name).Select(edge => new V1NetworkPolicyIngressRule
        {
            FromProperty = [Pods(edge.From)],
            Ports = Ports(workload, edge.PortNames),
        }).ToList();
        if (workload.Public && workload.HealthPort is { } publicPort)
        {
            ingress.Insert(0, new V1NetworkPolicyIngressRule
            {
                FromProperty =
                [
                    new V1NetworkPolicyPeer
                    {
                        NamespaceSelector = new V1LabelSelector
                        {
                            MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = options.IngressControllerNamespace },
                        },
                    },
                ],
                Ports = Ports(workload, [publicPort]),
            });
        }

        var egress = cluster.Edges.Where(edge => edge.From == workload.Name).Select(edge => cluster[edge.To] is { External: true } external
            // Run elsewhere, at an address only its connection string knows: any address, on its service's ports.
            ? new V1NetworkPolicyEgressRule
            {
                To = [new V1NetworkPolicyPeer { IpBlock = new V1IPBlock { Cidr = "0.0.0.0/0" } }, new V1NetworkPolicyPeer { IpBlock = new V1IPBlock { Cidr = "::/0" } }],
                Ports = external.Ports.Count > 0 ? Ports(external, external.Ports.Select(port => port.Name)) : null,
            }
            : new V1NetworkPolicyEgressRule
            {
                To = [Pods(edge.To)],
                Ports = Ports(cluster[edge.To], edge.PortNames),
            }).ToList();
        if (workload.Name == WebhookSender && options.AllowWebhookEgress)
        {
            egress.Add(new V1NetworkPolicyEgressRule
            {
                To =
                [
                    new V1NetworkPolicyPeer { IpBlock = new V1IPBlock { Cidr = "0.0.0.0/0", Except = PrivateIPv4 } },
                    new V1NetworkPolicyPeer { IpBlock = new V1IPBlock { Cidr = "::/0", Except = PrivateIPv6 } },
                ],
            });
        }

        return new V1NetworkPolicy
        {
            ApiVersion = "networking.k8s.io/v1",
            Kind = "NetworkPolicy",
            Metadata = new V1ObjectMeta { Name = workload.Name, Labels = KustomizeBaseBuilder.Labels(workload.Name, "network-policy") },
            Spec = new V1NetworkPolicySpec
            {
                PodSelector = new V1LabelSelector { MatchLabels = KustomizeBaseBuilder.Selector(workload.Name) },
                PolicyTypes = ["Ingress", "Egress"],
                Ingress = ingress,
                Egress = egress,
            },
        };
    }

    private static V1NetworkPolicyPeer Pods(string name) =>
        new() { PodSelector = new V1LabelSelector { MatchLabels = KustomizeBaseBuilder.Selector(name) } };

    private static List<V1NetworkPolicyPort> Ports(Workload workload, IEnumerable<string> names) =>
        names.Select(name => new V1NetworkPolicyPort { Protocol = "TCP", Port = workload.Port(name).Number }).ToList();
}
