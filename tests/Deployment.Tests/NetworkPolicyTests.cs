using k8s.Models;

namespace Deployment.Tests;

/// <summary>The network policies allow exactly the arrows of the architecture, from both ends, and deny the rest.</summary>
[Collection(PublishCollection.Name)]
public sealed class NetworkPolicyTests(PublishFixture publish)
{
    private const string IngressController = "namespace:ingress-nginx";
    private const string PublicInternet = "ipBlock:public";

    /// <summary>(from, to, port): the whole list, both directions written out.</summary>
    private static readonly string[] ExpectedEdges =
    [
        $"{IngressController} -> gateway:8080",
        "gateway -> python-inference:8080", "gateway -> python-inference:8081",
        "gateway -> worker:8080", "gateway -> worker:8081",
        "worker -> python-inference:8080", "worker -> python-inference:8081",
        "python-inference -> worker:8081", // the model registry (gRPC) only
        "worker -> messaging:5672", "python-inference -> messaging:5672",
        "worker -> postgres:5432", "python-inference -> postgres:5432",
        $"worker -> {PublicInternet}:any", // webhooks, to public addresses only
    ];

    [Fact]
    public void Ingress_rules_admit_exactly_the_architecture_edges()
    {
        var admitted = publish.All<V1NetworkPolicy>()
            .Where(policy => policy.Spec.PodSelector.MatchLabels is { Count: > 0 })
            .SelectMany(policy => (policy.Spec.Ingress ?? []).SelectMany(rule =>
                rule.FromProperty.SelectMany(peer => rule.Ports.Select(port =>
                    $"{Peer(peer)} -> {Target(policy)}:{port.Port.Value}"))));
        Assert.Equal(ExpectedEdges.Where(edge => !edge.Contains(PublicInternet, StringComparison.Ordinal)).Order(), admitted.Order());
    }

    [Fact]
    public void Egress_rules_allow_exactly_the_architecture_edges()
    {
        var allowed = publish.All<V1NetworkPolicy>()
            .Where(policy => policy.Spec.PodSelector.MatchLabels is { Count: > 0 })
            .SelectMany(policy => (policy.Spec.Egress ?? []).SelectMany(rule =>
                rule.To.Select(Peer).Distinct().SelectMany(to => (rule.Ports ?? []).Select(port => $"{Target(policy)} -> {to}:{port.Port.Value}")
                    .DefaultIfEmpty($"{Target(policy)} -> {to}:any"))));
        Assert.Equal(ExpectedEdges.Where(edge => !edge.StartsWith(IngressController, StringComparison.Ordinal)).Order(), allowed.Order());
    }

    [Fact]
    public void Everything_else_is_denied_except_DNS()
    {
        var deny = publish.All<V1NetworkPolicy>().Single(policy => policy.Metadata.Name == "default-deny");
        Assert.Empty(deny.Spec.PodSelector.MatchLabels ?? new Dictionary<string, string>());
        Assert.Equal(["Egress", "Ingress"], deny.Spec.PolicyTypes.Order());
        Assert.Null(deny.Spec.Ingress);
        Assert.Null(deny.Spec.Egress);

        var dns = publish.All<V1NetworkPolicy>().Single(policy => policy.Metadata.Name == "allow-dns");
        var rule = Assert.Single(dns.Spec.Egress);
        Assert.Equal(["53/TCP", "53/UDP"], rule.Ports.Select(port => $"{port.Port.Value}/{port.Protocol}").Order());
        Assert.Equal("kube-dns", Assert.Single(rule.To).PodSelector.MatchLabels["k8s-app"]);

        var webhooks = publish.All<V1NetworkPolicy>().Single(policy => policy.Metadata.Name == "worker").Spec.Egress
            .SelectMany(egress => egress.To).Where(peer => peer.IpBlock is not null).ToList();
        Assert.All(webhooks, peer => Assert.Contains(peer.IpBlock.Except, range => range is "10.0.0.0/8" or "fc00::/7"));
    }

    private static string Target(V1NetworkPolicy policy) => policy.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"];

    private static string Peer(V1NetworkPolicyPeer peer) => peer switch
    {
        { IpBlock: not null } => PublicInternet,
        { NamespaceSelector: { } namespaces } => $"namespace:{namespaces.MatchLabels["kubernetes.io/metadata.name"]}",
        { PodSelector: { } pods } => pods.MatchLabels["app.kubernetes.io/name"],
        _ => "anything",
    };
}
