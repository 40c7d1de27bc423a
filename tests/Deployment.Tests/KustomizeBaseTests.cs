using k8s;
using k8s.Models;

namespace Deployment.Tests;

[Collection(PublishCollection.Name)]
public sealed class KustomizeBaseTests(PublishFixture publish)
{
    private static readonly string[] Services = ["gateway", "worker", "python-inference"];

    [Fact]
    public void The_base_has_a_kustomization_and_one_folder_per_resource()
    {
        Assert.True(File.Exists(Path.Combine(publish.BaseDirectory, "kustomization.yaml")));
        foreach (var resource in Services.Concat(["messaging", "postgres"]))
        {
            Assert.True(File.Exists(Path.Combine(publish.BaseDirectory, resource, "kustomization.yaml")), resource);
        }
    }

    [Fact]
    public void Every_yaml_file_parses_strictly_into_typed_objects()
    {
        var files = Directory.GetFiles(publish.BaseDirectory, "*.yaml", SearchOption.AllDirectories)
            .Where(path => Path.GetFileName(path) != "kustomization.yaml").ToList();
        Assert.True(files.Count > 20, $"only {files.Count} object files");
        foreach (var file in files)
        {
            var objects = KubernetesYaml.LoadAllFromString(File.ReadAllText(file), strict: true);
            Assert.NotEmpty(objects);
            Assert.All(objects, value => Assert.IsAssignableFrom<IKubernetesObject>(value));
        }

        Assert.All(KubernetesYaml.LoadAllFromString(publish.RenderedWithDashboard, strict: true),
            value => Assert.IsAssignableFrom<IKubernetesObject>(value));
    }

    [Fact]
    public async Task Every_rendered_object_passes_the_kubernetes_json_schemas()
    {
        var rendered = Path.Combine(publish.Root, "rendered.yaml");
        await File.WriteAllTextAsync(rendered, publish.RenderedWithDashboard, TestContext.Current.CancellationToken);
        var result = await PublishFixture.RunAsync("node",
            [Path.Combine(PublishFixture.RepositoryRoot, "scripts", "k8s", "validate.mjs"), rendered], expectSuccess: false);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains(" 0 invalid", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Services_and_their_Deployments_exist_for_every_app_and_StatefulSets_for_the_broker_and_database()
    {
        Assert.Equal(Services.Order(), publish.All<V1Deployment>().Select(d => d.Metadata.Name).Order());
        Assert.Equal(["messaging", "postgres"], publish.All<V1StatefulSet>().Select(s => s.Metadata.Name).Order());
        Assert.All(publish.All<V1StatefulSet>(), set =>
        {
            var claim = Assert.Single(set.Spec.VolumeClaimTemplates);
            Assert.Contains(set.Spec.Template.Spec.Containers[0].VolumeMounts, mount => mount.Name == claim.Metadata.Name);
            Assert.Contains(set.Spec.Template.Spec.Containers[0].Env, env => env.ValueFrom?.SecretKeyRef is not null);
        });
    }

    [Fact]
    public void Every_Service_selects_pods_that_exist_and_targets_ports_they_expose()
    {
        var pods = Workloads().ToList();
        foreach (var service in publish.All<V1Service>())
        {
            // A headless Service's name resolves to pod addresses, one per pod (two would double a caller's connections).
            Assert.Equal(service.Spec.ClusterIP == "None" ? "SingleStack" : "PreferDualStack", service.Spec.IpFamilyPolicy);
            var selected = pods.Where(pod => service.Spec.Selector.All(label =>
                pod.Template.Metadata.Labels.TryGetValue(label.Key, out var value) && value == label.Value)).ToList();
            Assert.True(selected.Count > 0, $"Service {service.Metadata.Name} selects no pods");
            foreach (var port in service.Spec.Ports)
            {
                Assert.All(selected, pod => Assert.Contains(pod.Template.Spec.Containers.SelectMany(c => c.Ports),
                    exposed => port.TargetPort.Value == exposed.Name || port.TargetPort.Value == exposed.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
    }

    [Fact]
    public void Every_autoscaler_targets_an_existing_Deployment_and_the_Worker_keeps_its_two_replicas()
    {
        var autoscalers = publish.All<V2HorizontalPodAutoscaler>().ToList();
        Assert.Equal(Services.Order(), autoscalers.Select(hpa => hpa.Spec.ScaleTargetRef.Name).Order());
        var deployments = publish.All<V1Deployment>().Select(d => d.Metadata.Name).ToHashSet();
        Assert.All(autoscalers, hpa =>
        {
            Assert.Equal("Deployment", hpa.Spec.ScaleTargetRef.Kind);
            Assert.Contains(hpa.Spec.ScaleTargetRef.Name, deployments);
            Assert.True(hpa.Spec.MaxReplicas >= hpa.Spec.MinReplicas);
            Assert.Equal("cpu", Assert.Single(hpa.Spec.Metrics).Resource.Name);
        });
        Assert.Equal(2, autoscalers.Single(hpa => hpa.Metadata.Name == "worker").Spec.MinReplicas);
        Assert.Equal(PublishFixture.GatewayMaxReplicas, autoscalers.Single(hpa => hpa.Metadata.Name == "gateway").Spec.MaxReplicas);
        Assert.Equal(1, autoscalers.Single(hpa => hpa.Metadata.Name == "gateway").Spec.MinReplicas);
        Assert.Equal(Services.Order(), publish.All<V1PodDisruptionBudget>().Select(pdb => pdb.Metadata.Name).Order());
    }

    [Fact]
    public void Every_ConfigMap_and_Secret_key_an_environment_variable_references_exists()
    {
        var configMaps = publish.All<V1ConfigMap>().ToDictionary(map => map.Metadata.Name, map => map.Data.Keys.ToHashSet());
        var secrets = publish.All<V1Secret>().ToDictionary(secret => secret.Metadata.Name, secret => secret.Data.Keys.ToHashSet());
        var references = 0;
        foreach (var container in Workloads().SelectMany(pod => pod.Template.Spec.Containers))
        {
            foreach (var env in container.Env ?? [])
            {
                if (env.ValueFrom?.ConfigMapKeyRef is { } config)
                {
                    Assert.True(configMaps.TryGetValue(config.Name, out var keys) && keys.Contains(config.Key), $"{container.Name}: {env.Name} -> ConfigMap {config.Name}/{config.Key}");
                    references++;
                }

                if (env.ValueFrom?.SecretKeyRef is { } secret)
                {
                    Assert.True(secrets.TryGetValue(secret.Name, out var keys) && keys.Contains(secret.Key), $"{container.Name}: {env.Name} -> Secret {secret.Name}/{secret.Key}");
                    references++;
                }
            }
        }

        Assert.True(references > 20, $"only {references} references");
    }

    [Fact]
    public void Every_container_is_locked_down_with_probes_and_resources()
    {
        foreach (var pod in Workloads())
        {
            Assert.True(pod.Template.Spec.SecurityContext.RunAsNonRoot);
            Assert.Equal("RuntimeDefault", pod.Template.Spec.SecurityContext.SeccompProfile.Type);
            foreach (var container in pod.Template.Spec.Containers)
            {
                var security = container.SecurityContext;
                Assert.True(security.RunAsNonRoot, container.Name);
                Assert.True(security.ReadOnlyRootFilesystem, container.Name);
                Assert.False(security.AllowPrivilegeEscalation, container.Name);
                Assert.Equal(["ALL"], security.Capabilities.Drop);
                Assert.Equal("RuntimeDefault", security.SeccompProfile.Type);
                Assert.NotNull(container.ReadinessProbe);
                Assert.NotNull(container.LivenessProbe);
                Assert.All(new[] { "cpu", "memory" }, resource =>
                {
                    Assert.Contains(resource, container.Resources.Requests.Keys);
                    Assert.Contains(resource, container.Resources.Limits.Keys);
                });
                Assert.Contains(container.VolumeMounts, mount => mount.MountPath == "/tmp");
            }
        }

        foreach (var name in Services)
        {
            var container = Assert.Single(publish.All<V1Deployment>().Single(d => d.Metadata.Name == name).Spec.Template.Spec.Containers);
            Assert.Equal("/health", container.ReadinessProbe.HttpGet.Path);
            Assert.Equal("/alive", container.LivenessProbe.HttpGet.Path);
        }
    }

    [Fact]
    public void Images_come_from_the_image_parameters()
    {
        foreach (var name in Services)
        {
            var container = publish.All<V1Deployment>().Single(d => d.Metadata.Name == name).Spec.Template.Spec.Containers[0];
            Assert.Equal($"{PublishFixture.ImageRegistry}/{name}:{PublishFixture.ImageTag}", container.Image);
        }
    }

    [Fact]
    public void Only_the_gateway_is_reachable_from_the_Ingress_with_TLS()
    {
        var ingress = Assert.Single(publish.All<V1Ingress>());
        var rule = Assert.Single(ingress.Spec.Rules);
        var tls = Assert.Single(ingress.Spec.Tls);
        Assert.Equal(PublishFixture.IngressHost, rule.Host);
        Assert.Equal([rule.Host], tls.Hosts);
        Assert.False(string.IsNullOrEmpty(tls.SecretName));
        Assert.Equal(["gateway"], rule.Http.Paths.Select(path => path.Backend.Service.Name).Distinct());
        var admitsOtherNamespaces = publish.All<V1NetworkPolicy>()
            .Where(policy => policy.Spec.Ingress?.Any(rule => rule.FromProperty?.Any(peer => peer.NamespaceSelector is not null) == true) == true)
            .Select(policy => policy.Metadata.Name);
        Assert.Equal(["gateway"], admitsOtherNamespaces);
    }

    [Fact]
    public void The_cluster_runs_on_PostgreSQL()
    {
        foreach (var (service, database) in new[] { ("worker", "workerdb"), ("python-inference", "analyticsdb") })
        {
            var pod = publish.All<V1Deployment>().Single(d => d.Metadata.Name == service).Spec.Template.Spec;
            var env = pod.Containers[0].Env.ToDictionary(variable => variable.Name);
            var provider = env["Database__Provider"].ValueFrom.ConfigMapKeyRef;
            Assert.Equal("postgres", publish.All<V1ConfigMap>().Single(map => map.Metadata.Name == provider.Name).Data[provider.Key]);
            Assert.Contains($"Database={database}", env[$"ConnectionStrings__{database}"].Value, StringComparison.Ordinal);
            Assert.Contains("Host=postgres;", env[$"ConnectionStrings__{database}"].Value, StringComparison.Ordinal);
        }

        // The server's settings travel as arguments, which the image's entrypoint hands to postgres. No init script:
        // each service creates its database on its first start (tests/Worker.Tests/WorkerDatabaseMigrationTests.cs,
        // python-inference/tests/messaging/test_analytics.py), as from the Aspire manifest.
        var server = publish.All<V1StatefulSet>().Single(set => set.Metadata.Name == "postgres").Spec.Template.Spec.Containers[0];
        Assert.DoesNotContain(server.VolumeMounts, mount => mount.MountPath == "/docker-entrypoint-initdb.d");
        Assert.Equal(["-c", "autovacuum_naptime=5s"], server.Args);
        // 17: from 18 on the image keeps its data elsewhere than where the volume is mounted.
        Assert.Equal("docker.io/library/postgres:17.6", server.Image);
        Assert.Contains(server.VolumeMounts, mount => mount.MountPath == "/var/lib/postgresql/data");
    }

    [Fact]
    public void The_brokers_probes_run_its_CLI_without_busy_waiting_schedulers()
    {
        var broker = publish.All<V1StatefulSet>().Single(set => set.Metadata.Name == "messaging").Spec.Template.Spec.Containers[0];
        Assert.Equal("rabbitmq-diagnostics", broker.ReadinessProbe.Exec.Command[0]);
        Assert.Equal("rabbitmq-diagnostics", broker.LivenessProbe.Exec.Command[0]);
        var arguments = Assert.Single(broker.Env, variable => variable.Name == "RABBITMQ_CTL_ERL_ARGS").Value;
        Assert.Equal(["+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"], arguments.Split(' '));
    }

    [Fact]
    public void The_gateway_behind_the_tls_ending_ingress_trusts_x_forwarded_proto_and_the_internal_services_do_not()
    {
        // Outside Development the gateway takes bearer tokens over HTTPS only; in the cluster, HTTPS is the Ingress's.
        var configs = publish.All<V1ConfigMap>().ToDictionary(map => map.Metadata.Name, map => map.Data);
        Assert.Equal("true", configs["gateway-config"]["Auth__TrustForwardedProto"]);
        Assert.False(configs["worker-config"].ContainsKey("Auth__TrustForwardedProto"));
    }

    [Fact]
    public void The_gateway_and_the_worker_balance_their_grpc_calls_over_python_inferences_pods_through_a_headless_service()
    {
        // Through the ClusterIP Service, a channel's one HTTP/2 connection would pin every call to one pod (docs/deployment.md).
        var headless = Assert.Single(publish.All<V1Service>(), service => service.Spec.ClusterIP == "None");
        Assert.Equal("python-inference-headless", headless.Metadata.Name);
        var clusterIp = publish.All<V1Service>().Single(service => service.Metadata.Name == "python-inference");
        Assert.Equal(clusterIp.Spec.Selector, headless.Spec.Selector);
        var grpc = Assert.Single(headless.Spec.Ports);
        Assert.Equal(("grpc", "kubernetes.io/h2c"), (grpc.Name, grpc.AppProtocol));
        // Callers connect to the pods themselves, so the address carries the container's port.
        var container = publish.All<V1Deployment>().Single(d => d.Metadata.Name == "python-inference").Spec.Template.Spec.Containers[0];
        var containerPort = container.Ports.Single(port => port.Name == "grpc").ContainerPort;
        Assert.Equal(containerPort, grpc.Port);

        foreach (var caller in (string[])["gateway", "worker"])
        {
            Assert.Equal($"dns:///python-inference-headless:{containerPort}", Config(publish.Objects, caller)["Inference__GrpcAddress"]);
        }

        // The gateway on gRPC in the cluster (the Aspire manifest keeps HTTP/JSON), unless the publish chose otherwise.
        Assert.Equal("Grpc", Config(publish.Objects, "gateway")["Inference__Transport"]);
        Assert.Equal("Http", Config(publish.ExternalObjects, "gateway")["Inference__Transport"]); // --Gateway:InferenceTransport Http

        static IDictionary<string, string> Config(IEnumerable<object> objects, string service) =>
            objects.OfType<V1ConfigMap>().Single(map => map.Metadata.Name == $"{service}-config").Data;
    }

    [Fact]
    public void A_model_repository_and_the_built_in_models_chosen_are_published_only_when_configured()
    {
        static IReadOnlyDictionary<string, string> PythonInferenceConfig(IEnumerable<object> objects) =>
            objects.OfType<V1ConfigMap>().Single(map => map.Metadata.Name == "python-inference-config").Data.AsReadOnly();

        // --PythonInference:ModelRepository /srv/models: passed on as it is (no folder of the publishing machine).
        Assert.Equal(PublishFixture.ImageModelRepository, PythonInferenceConfig(publish.ExternalObjects)["MODEL_REPOSITORY"]);
        Assert.DoesNotContain("MODEL_REPOSITORY", PythonInferenceConfig(publish.Objects).Keys);
        // --PythonInference:BuiltInModels none: the repository's models alone.
        Assert.Equal("none", PythonInferenceConfig(publish.ExternalObjects)["BUILTIN_MODELS"]);
        Assert.DoesNotContain("BUILTIN_MODELS", PythonInferenceConfig(publish.Objects).Keys);
    }

    [Fact]
    public void Every_service_exports_telemetry_to_the_endpoint_in_the_otel_ConfigMap_which_the_dashboard_component_sets()
    {
        foreach (var name in Services)
        {
            var env = publish.All<V1Deployment>().Single(d => d.Metadata.Name == name).Spec.Template.Spec.Containers[0].Env;
            Assert.Equal("otel-config", env.Single(variable => variable.Name == "OTEL_EXPORTER_OTLP_ENDPOINT").ValueFrom.ConfigMapKeyRef.Name);
            Assert.Equal("otel-config", env.Single(variable => variable.Name == "OTEL_TRACES_SAMPLER").ValueFrom.ConfigMapKeyRef.Name);
            Assert.Equal("otel-config", env.Single(variable => variable.Name == "OTEL_TRACES_SAMPLER_ARG").ValueFrom.ConfigMapKeyRef.Name);
        }

        // Production keeps a share of the traces, every service following its caller's decision.
        var otel = publish.All<V1ConfigMap>().Single(map => map.Metadata.Name == "otel-config").Data;
        Assert.Equal(("parentbased_traceidratio", "0.1"), (otel["OTEL_TRACES_SAMPLER"], otel["OTEL_TRACES_SAMPLER_ARG"]));

        var withDashboard = KubernetesYaml.LoadAllFromString(publish.RenderedWithDashboard, strict: true);
        Assert.Contains(withDashboard.OfType<V1Deployment>(), d => d.Metadata.Name == "aspire-dashboard");
        Assert.Equal("http://aspire-dashboard:18890",
            withDashboard.OfType<V1ConfigMap>().Single(map => map.Metadata.Name == "otel-config").Data["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.Single(withDashboard.OfType<V1Ingress>()); // the dashboard has none: port-forward only
    }

    [Theory]
    [InlineData("gateway", "WorkerAuth__SigningKey", "Auth__Callers__gateway__SigningKey", "worker-token-key-gateway")]
    [InlineData("python-inference", "WORKER_TOKEN_KEY", "Auth__Callers__python-inference__SigningKey", "worker-token-key-python-inference")]
    public void Each_caller_of_the_worker_and_the_worker_read_the_callers_key_from_one_Secret_key(
        string caller, string callerVariable, string workerVariable, string key)
    {
        V1SecretKeySelector SecretOf(string workload, string variable) => Assert.Single(
            publish.All<V1Deployment>().Single(d => d.Metadata.Name == workload).Spec.Template.Spec.Containers[0].Env,
            env => env.Name == variable).ValueFrom.SecretKeyRef;

        var callers = SecretOf(caller, callerVariable);
        var workers = SecretOf("worker", workerVariable);

        Assert.Equal(key, callers.Key);
        Assert.Equal((callers.Name, callers.Key), (workers.Name, workers.Key));
        // The other caller's key is not given to this one.
        Assert.DoesNotContain(publish.All<V1Deployment>().Single(d => d.Metadata.Name == caller).Spec.Template.Spec.Containers[0].Env,
            env => env.ValueFrom?.SecretKeyRef?.Key is { } other && other.StartsWith("worker-token-key-", StringComparison.Ordinal) && other != key);
    }

    [Fact]
    public void The_dashboards_caller_of_the_worker_exists_in_run_mode_only_and_is_not_deployed()
    {
        Assert.DoesNotContain("worker-token-key-dashboard", publish.RenderedBase, StringComparison.Ordinal);
        Assert.DoesNotContain("Auth__Callers__dashboard", publish.RenderedBase, StringComparison.Ordinal);
        Assert.DoesNotContain("worker-token-key-dashboard", publish.RenderedWithDashboard, StringComparison.Ordinal);
    }

    [Fact]
    public void No_secret_value_is_published()
    {
        var examples = Directory.GetFiles(publish.BaseDirectory, "*.env.example", SearchOption.AllDirectories);
        // worker (webhook signing, the gateway's token key), python-inference (its token key), messaging and postgres passwords
        Assert.Equal(4, examples.Length);
        foreach (var line in examples.SelectMany(File.ReadLines).Where(line => !line.StartsWith('#')))
        {
            Assert.EndsWith("=", line, StringComparison.Ordinal);
        }

        Assert.Equal("*.env\n!*.env.example\n", File.ReadAllText(Path.Combine(publish.BaseDirectory, ".gitignore")));
        var published = Directory.GetFiles(publish.BaseDirectory, "*.yaml", SearchOption.AllDirectories);
        Assert.DoesNotContain(published, file => File.ReadAllText(file).Contains("kind: Secret\n", StringComparison.Ordinal));
    }

    private IEnumerable<(V1PodTemplateSpec Template, string Name)> Workloads() =>
        publish.All<V1Deployment>().Select(d => (d.Spec.Template, d.Metadata.Name))
            .Concat(publish.All<V1StatefulSet>().Select(s => (s.Spec.Template, s.Metadata.Name)));
}
