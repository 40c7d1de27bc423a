using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Logging;

namespace AppHost.Deployment;

/// <summary>
/// Walks the application model as publish mode describes it (resources, endpoints, references, environment, replicas,
/// parameters) and says how each resource runs in the cluster. Every value that crosses resources is rendered for
/// Kubernetes: an endpoint becomes <c>http://&lt;service&gt;:&lt;port&gt;</c>, a secret parameter a Secret key.
/// </summary>
internal sealed class ClusterModelReader(
    DistributedApplicationModel model,
    DistributedApplicationExecutionContext executionContext,
    ILogger logger)
{
    // .NET images run as the non-root "app" user (uid 1654); python-inference's Dockerfile makes uid 10001;
    // the official rabbitmq and postgres images have their service user at uid 999.
    internal const int DotNetUser = 1654;
    internal const int PythonUser = 10001;
    internal const int DataServiceUser = 999;
    private const int FirstAppPort = 8080;

    private readonly Dictionary<(string Resource, string Endpoint), ClusterPort> _ports = [];
    private readonly Dictionary<string, string> _secretOwners = new(StringComparer.Ordinal);
    private readonly HashSet<string> _externals = new(StringComparer.Ordinal);

    /// <summary>The pseudo-endpoint of an external service: an edge to it opens all of its known ports.</summary>
    internal const string ExternalEndpoint = "*";

    public async Task<ClusterModel> ReadAsync(CancellationToken cancellationToken)
    {
        var cluster = new ClusterModel();
        var resources = model.Resources.Where(IsDeployed).ToList();
        foreach (var resource in resources)
        {
            var workload = CreateWorkload(resource);
            if (workload.External)
            {
                _externals.Add(workload.Name);
            }
            else
            {
                AssignPorts(resource, workload);
            }

            cluster.Workloads.Add(workload);
        }

        ClusterDatabase.Complete(cluster);

        // A broker's or database's connection string is made of its own secret parameters: its Secret holds them.
        foreach (var resource in resources.OfType<IResourceWithConnectionString>().Where(resource => !cluster[resource.Name].IsService))
        {
            ClaimSecrets(resource.ConnectionStringExpression, resource.Name);
        }

        // Brokers and databases first: the secret parameters they are made with are theirs (their Secret holds them).
        foreach (var resource in resources.OrderByDescending(resource => cluster[resource.Name].Stateful))
        {
            if (resource is IResourceWithEnvironment && !cluster[resource.Name].External)
            {
                await ReadEnvironmentAsync(resource, cluster, cancellationToken);
                ApplyClusterSettings(resource, cluster);
            }
        }

        foreach (var workload in cluster.Workloads.Where(workload => workload.IsService))
        {
            ExportTelemetry(workload);
        }

        return cluster;
    }

    /// <summary>
    /// What the model says only for the cluster, over the environment read from it: settings
    /// (<see cref="KubernetesPublishingExtensions.InCluster{T}"/>) and gRPC addresses balanced over the target's pods
    /// (<see cref="KubernetesPublishingExtensions.BalancesGrpcInCluster{T}"/>), which also give the target its headless
    /// Service.
    /// </summary>
    private void ApplyClusterSettings(IResource resource, ClusterModel cluster)
    {
        var workload = cluster[resource.Name];
        foreach (var setting in resource.Annotations.OfType<ClusterSettingAnnotation>())
        {
            SetVariable(workload, setting.Name, setting.Value, new RenderScope(workload));
        }

        foreach (var balanced in resource.Annotations.OfType<BalancedGrpcAnnotation>())
        {
            var target = balanced.Endpoint.Resource.Name;
            if (!_ports.TryGetValue((target, balanced.Endpoint.EndpointName), out var port) || !port.Http2)
            {
                throw new DistributedApplicationException(
                    $"'{resource.Name}' balances gRPC calls over endpoint '{balanced.Endpoint.EndpointName}' of " +
                    $"'{target}', which is no HTTP/2 port in the cluster.");
            }

            cluster[target].PodAddressedPorts.Add(port.Name);
            var address = $"{BalancedGrpcAnnotation.Scheme}:///{ClusterNames.HeadlessService(target)}:{port.Number}";
            SetVariable(workload, balanced.Variable, address, new RenderScope(workload));
            AddEdge(cluster, workload.Name, target, port.Name);
        }
    }

    /// <summary>The operator's extra settings (<see cref="KubernetesDeploymentOptions.Settings"/>), over the model's.</summary>
    public void ApplySettings(ClusterModel cluster, KubernetesDeploymentOptions options)
    {
        foreach (var (name, settings) in options.Settings)
        {
            var workload = cluster.Find(name) is { IsService: true } found ? found
                : throw new DistributedApplicationException($"{KubernetesDeploymentOptions.SectionName}:Settings names '{name}', which is not a service.");
            foreach (var (key, value) in settings)
            {
                SetVariable(workload, key, value, new RenderScope(workload));
            }
        }
    }

    /// <summary>
    /// Every service exports OTLP to the endpoint in the shared <c>otel-config</c> ConfigMap, and samples traces as it
    /// says (one setting for all, so that each follows its caller's decision).
    /// </summary>
    private void ExportTelemetry(Workload workload)
    {
        workload.Env.RemoveAll(variable => variable.Name is "OTEL_EXPORTER_OTLP_ENDPOINT" or "OTEL_EXPORTER_OTLP_HEADERS"
            or "OTEL_TRACES_SAMPLER" or "OTEL_TRACES_SAMPLER_ARG");
        foreach (var name in (string[])["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"])
        {
            workload.Env.Add(new ClusterEnvVar(name, ConfigKey: name, ConfigMapName: ClusterNames.TelemetryConfig));
        }

        if (!workload.Settings.ContainsKey("OTEL_SERVICE_NAME"))
        {
            SetVariable(workload, "OTEL_SERVICE_NAME", workload.Name, new RenderScope(workload));
        }

        if (workload.DotNet && !workload.Settings.ContainsKey("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            SetVariable(workload, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", new RenderScope(workload));
        }
    }

    private static bool IsDeployed(IResource resource) => resource switch
    {
        ParameterResource and not IResourceWithConnectionString => false,
        // Databases live in their server; connection strings of external services are parameters.
        IResourceWithParent => false,
        ProjectResource or ContainerResource => !resource.IsExcludedFromPublish(),
        // A service run elsewhere, known by its connection string (a secret parameter).
        IResourceWithConnectionString => !resource.IsExcludedFromPublish(),
        _ => throw new DistributedApplicationException(
            $"The Kubernetes publisher cannot deploy resource '{resource.Name}' ({resource.GetType().Name}): " +
            "only projects and containers run in the cluster. Exclude it from publishing or publish it as a container."),
    };

    private static Workload CreateWorkload(IResource resource)
    {
        var replicas = resource.TryGetLastAnnotation<ReplicaAnnotation>(out var replica) ? replica.Replicas : 1;
        var isPublic = resource.Annotations.OfType<EndpointAnnotation>().Any(endpoint => endpoint.IsExternal);
        switch (resource)
        {
            case ProjectResource:
                return new Workload(resource.Name, stateful: false)
                {
                    Image = resource.Name, BuiltHere = true, Replicas = replicas, RunAsUser = DotNetUser, DotNet = true,
                    HealthPort = "http", Public = isPublic, Resources = ResourceProfiles.DotNetService,
                };
            case ContainerResource when resource.HasAnnotationOfType<DockerfileBuildAnnotation>():
                return new Workload(resource.Name, stateful: false)
                {
                    Image = resource.Name, BuiltHere = true, Replicas = replicas, RunAsUser = PythonUser,
                    HealthPort = "http", Public = isPublic, Resources = ResourceProfiles.PythonService,
                };
            case IResourceWithConnectionString and not ContainerResource:
                var external = new Workload(resource.Name, stateful: false)
                {
                    Image = "", External = true, Resources = ResourceProfiles.DataService,
                };
                external.Ports.AddRange(DataServices.ExternalPortsFor(resource.Name));
                return external;
            case ContainerResource container:
                var image = container.Annotations.OfType<ContainerImageAnnotation>().Last();
                var reference = $"{(image.Registry is { Length: > 0 } registry ? registry + "/" : "")}{image.Image}" +
                                (image.SHA256 is { Length: > 0 } digest ? $"@sha256:{digest}" : $":{image.Tag ?? "latest"}");
                var stateful = resource is IResourceWithConnectionString;
                return new Workload(resource.Name, stateful)
                {
                    Image = reference, Replicas = replicas, RunAsUser = DataServiceUser, Public = isPublic,
                    DataPath = stateful ? DataServices.DataPathFor(image.Image) : null,
                    Resources = ResourceProfiles.DataService,
                };
            default:
                throw new InvalidOperationException($"Unexpected resource type {resource.GetType().Name}.");
        }
    }

    private void AssignPorts(IResource resource, Workload workload)
    {
        var next = FirstAppPort;
        foreach (var endpoint in resource.Annotations.OfType<EndpointAnnotation>())
        {
            // TLS ends at the Ingress; inside the cluster the services speak plain HTTP (and h2c for gRPC).
            if (resource is ProjectResource && endpoint.UriScheme == "https")
            {
                continue;
            }

            var number = endpoint.TargetPort ?? next;
            if (endpoint.TargetPort is null)
            {
                while (workload.Ports.Any(port => port.Number == number))
                {
                    number++;
                }

                next = number + 1;
            }

            var port = new ClusterPort(endpoint.Name, number, endpoint.UriScheme, endpoint.Transport == "http2");
            workload.Ports.Add(port);
            _ports[(resource.Name, endpoint.Name)] = port;
        }
    }

    private async Task ReadEnvironmentAsync(IResource resource, ClusterModel cluster, CancellationToken cancellationToken)
    {
        var workload = cluster[resource.Name];
        var values = new List<(string Name, object? Value)>();
        // The unprocessed values (parameters, endpoint and connection-string references) are what this publisher
        // renders; the newer ExecutionConfigurationBuilder resolves values for a run instead.
#pragma warning disable CS0618
        await resource.ProcessEnvironmentVariableValuesAsync(executionContext, (name, unprocessed, _, exception) =>
        {
            if (exception is not null)
            {
                throw new DistributedApplicationException(
                    $"Environment variable {name} of '{resource.Name}' could not be evaluated: {exception.Message}", exception);
            }

            values.Add((name, unprocessed));
        }, logger, cancellationToken);
#pragma warning restore CS0618

        var reach = resource.Annotations.OfType<ClusterReachAnnotation>().ToList();
        foreach (var (name, value) in values)
        {
            var scope = new RenderScope(workload);
            var rendered = await RenderAsync(value, scope, cancellationToken);
            if (reach.Any(rule => scope.Endpoints.Any(endpoint => rule.Excludes(endpoint.Resource, endpoint.Endpoint))))
            {
                continue; // an address the workload is not allowed to call in the cluster
            }

            SetVariable(workload, name, rendered, scope);
            foreach (var endpoint in scope.Endpoints.Where(endpoint => endpoint.Resource != workload.Name))
            {
                AddEdge(cluster, workload.Name, endpoint.Resource, endpoint.Endpoint);
            }
        }
    }

    /// <summary>Sets (or replaces) a variable: a Secret key, an inline value expanding helper variables, or a setting.</summary>
    internal void SetVariable(Workload workload, string name, string rendered, RenderScope scope)
    {
        workload.Env.RemoveAll(variable => variable.Name == name);
        workload.Settings.Remove(name);
        if (scope.Secrets.Count == 1 && rendered == $"$({HelperVariable(scope.Secrets[0])})")
        {
            workload.Env.Add(new ClusterEnvVar(name, Secret: SecretFor(workload, scope.Secrets[0])));
            return;
        }

        foreach (var secret in scope.Secrets)
        {
            var helper = HelperVariable(secret);
            if (workload.Env.All(variable => variable.Name != helper))
            {
                // $(NAME) expands only variables defined earlier in the list.
                workload.Env.Insert(0, new ClusterEnvVar(helper, Secret: SecretFor(workload, secret)));
            }
        }

        if (scope.Secrets.Count > 0)
        {
            workload.Env.Add(new ClusterEnvVar(name, InlineValue: rendered));
        }
        else
        {
            workload.Settings[name] = rendered;
            workload.Env.Add(new ClusterEnvVar(name, ConfigKey: name, ConfigMapName: ClusterNames.Config(workload.Name)));
        }
    }

    internal static void AddEdge(ClusterModel cluster, string from, string to, string portName)
    {
        var index = cluster.Edges.FindIndex(edge => edge.From == from && edge.To == to);
        if (index < 0)
        {
            cluster.Edges.Add(new ClusterEdge(from, to, new SortedSet<string>(StringComparer.Ordinal) { portName }));
        }
        else
        {
            cluster.Edges[index] = cluster.Edges[index] with
            {
                PortNames = new SortedSet<string>(cluster.Edges[index].PortNames, StringComparer.Ordinal) { portName },
            };
        }
    }

    internal void ClaimSecrets(object? value, string owner)
    {
        switch (value)
        {
            case ParameterResource { Secret: true } parameter:
                _secretOwners.TryAdd(parameter.Name, owner);
                break;
            case ReferenceExpression expression:
                foreach (var provider in expression.ValueProviders)
                {
                    ClaimSecrets(provider, owner);
                }

                break;
        }
    }

    /// <summary>The Secret that holds a secret parameter: its first user's, unless a broker or database owns it.</summary>
    internal SecretReference SecretFor(Workload workload, ParameterResource parameter)
    {
        if (!_secretOwners.TryGetValue(parameter.Name, out var owner))
        {
            owner = workload.Name;
            _secretOwners[parameter.Name] = owner;
        }

        return new SecretReference(ClusterNames.Secret(owner), parameter.Name);
    }

    /// <summary>The owning workloads' Secret keys, once every variable has been read.</summary>
    internal IEnumerable<(string Owner, string Key)> SecretKeys => _secretOwners.Select(pair => (pair.Value, pair.Key));

    internal static string HelperVariable(ParameterResource parameter) =>
        parameter.Name.ToUpperInvariant().Replace('-', '_');

    internal async Task<string> RenderAsync(object? value, RenderScope scope, CancellationToken cancellationToken)
    {
        if (value is IResourceWithConnectionString connected && _externals.Contains(connected.Name))
        {
            scope.Endpoints.Add((connected.Name, ExternalEndpoint));
        }

        switch (value)
        {
            case null:
                return "";
            case string text:
                return text;
            case ParameterResource { Secret: true } secret:
                if (!scope.Secrets.Contains(secret))
                {
                    scope.Secrets.Add(secret);
                }

                return $"$({HelperVariable(secret)})";
            case ParameterResource parameter:
                return await parameter.GetValueAsync(cancellationToken)
                    ?? throw new DistributedApplicationException($"Parameter '{parameter.Name}' has no value: set Parameters:{parameter.Name}.");
            case ConnectionStringReference connectionString:
                return await RenderAsync(connectionString.Resource, scope, cancellationToken);
            case IResourceWithConnectionString resource:
                return await RenderAsync(resource.ConnectionStringExpression, scope, cancellationToken);
            case ReferenceExpression expression:
                var parts = new object[expression.ValueProviders.Count];
                for (var i = 0; i < parts.Length; i++)
                {
                    parts[i] = await RenderAsync(expression.ValueProviders[i], scope, cancellationToken);
                }

                return string.Format(CultureInfo.InvariantCulture, expression.Format, parts);
            case EndpointReference endpoint:
                return RenderEndpoint(endpoint, EndpointProperty.Url, scope);
            case EndpointReferenceExpression property:
                return RenderEndpoint(property.Endpoint, property.Property, scope);
            default:
                throw new DistributedApplicationException(
                    $"The Kubernetes publisher cannot render a {value.GetType().Name} (in '{scope.Workload.Name}').");
        }
    }

    private string RenderEndpoint(EndpointReference endpoint, EndpointProperty property, RenderScope scope)
    {
        var resource = endpoint.Resource.Name;
        if (!_ports.TryGetValue((resource, endpoint.EndpointName), out var port))
        {
            throw new DistributedApplicationException(
                $"'{scope.Workload.Name}' refers to endpoint '{endpoint.EndpointName}' of '{resource}', which has no port in the cluster.");
        }

        scope.Endpoints.Add((resource, endpoint.EndpointName));
        var host = ClusterNames.Service(resource);
        return property switch
        {
            EndpointProperty.Url => $"{port.Scheme}://{host}:{port.Number}",
            EndpointProperty.Host or EndpointProperty.IPV4Host => host,
            EndpointProperty.Port or EndpointProperty.TargetPort => port.Number.ToString(CultureInfo.InvariantCulture),
            EndpointProperty.HostAndPort => $"{host}:{port.Number}",
            EndpointProperty.Scheme => port.Scheme,
            EndpointProperty.TlsEnabled => port.Scheme == "https" ? "true" : "false",
            _ => throw new DistributedApplicationException($"Endpoint property {property} is not supported."),
        };
    }
}

/// <summary>What rendering one value touched: endpoints of other resources (network edges) and secret parameters.</summary>
internal sealed class RenderScope(Workload workload)
{
    public Workload Workload { get; } = workload;

    public List<(string Resource, string Endpoint)> Endpoints { get; } = [];

    public List<ParameterResource> Secrets { get; } = [];
}

internal static class ClusterNames
{
    public static string Service(string resource) => resource;

    /// <summary>The headless Service of a workload some caller balances gRPC calls over: it resolves to the ready pods.</summary>
    public static string HeadlessService(string resource) => $"{resource}-headless";

    public static string Config(string resource) => $"{resource}-config";

    public static string Secret(string resource) => $"{resource}-secrets";

    public const string TelemetryConfig = "otel-config";
}

internal static class ResourceProfiles
{
    public static readonly ResourceProfile DotNetService = new("100m", "256Mi", "1", "512Mi");
    public static readonly ResourceProfile PythonService = new("250m", "512Mi", "1", "1Gi");
    public static readonly ResourceProfile DataService = new("100m", "256Mi", "1", "1Gi");
}
