using System.ComponentModel.DataAnnotations;

namespace AppHost.Deployment;

/// <summary>
/// What the kustomize base needs beyond the application model: the public host, autoscaling bounds, storage.
/// Configuration section <c>Deployment:Kubernetes</c> of the AppHost (appsettings, environment or command line).
/// </summary>
public sealed class KubernetesDeploymentOptions
{
    public const string SectionName = "Deployment:Kubernetes";

    /// <summary>The gateway's public host name (the Ingress rule and its TLS certificate).</summary>
    [Required, RegularExpression(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    public string IngressHost { get; set; } = "ml-gateway.example.com";

    /// <summary>The Secret (type kubernetes.io/tls) holding the certificate for <see cref="IngressHost"/>.</summary>
    [Required, RegularExpression(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    public string IngressTlsSecretName { get; set; } = "gateway-tls";

    [Required]
    public string IngressClassName { get; set; } = "nginx";

    /// <summary>The namespace of the ingress controller: the one source the gateway's network policy admits.</summary>
    [Required, RegularExpression(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    public string IngressControllerNamespace { get; set; } = "ingress-nginx";

    /// <summary>Where every service exports OTLP (the <c>otel</c> ConfigMap); empty: no export. The dashboard component sets it.</summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary>
    /// The share of new traces kept (<c>OTEL_TRACES_SAMPLER=parentbased_traceidratio</c> with this ratio in the
    /// <c>otel</c> ConfigMap): every service follows its caller's decision, so a trace is kept or dropped whole.
    /// </summary>
    [Range(0.0, 1.0)]
    public double TraceSamplingRatio { get; set; } = 0.1;

    [Range(1, 100)]
    public int MaxReplicas { get; set; } = 6;

    [Range(10, 100)]
    public int TargetCpuUtilizationPercentage { get; set; } = 70;

    /// <summary>Per-service overrides of the autoscaler (section <c>Autoscaling:&lt;resource&gt;</c>).</summary>
    public Dictionary<string, AutoscalingOptions> Autoscaling { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Size of each StatefulSet's volume claim (RabbitMQ, PostgreSQL).</summary>
    [Required, RegularExpression(@"^[0-9]+(Mi|Gi|Ti)$")]
    public string StorageSize { get; set; } = "8Gi";

    /// <summary>
    /// Settings the cluster needs beyond the model's, per service, written to its ConfigMap: e.g.
    /// <c>Settings:gateway:Authentication__Schemes__Bearer__Authority</c> (the gateway's token issuer in production).
    /// </summary>
    public Dictionary<string, Dictionary<string, string>> Settings { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The Worker's webhook calls leave the cluster: allow its egress to public addresses (not private ones).</summary>
    public bool AllowWebhookEgress { get; set; } = true;
}

public sealed class AutoscalingOptions
{
    /// <summary>Unset: the replica count of the application model (the Worker's 2).</summary>
    [Range(1, 100)]
    public int? MinReplicas { get; set; }

    [Range(1, 100)]
    public int? MaxReplicas { get; set; }

    [Range(10, 100)]
    public int? TargetCpuUtilizationPercentage { get; set; }
}
