using System.Text.Json;

namespace Deployment.Tests;

[Collection(PublishCollection.Name)]
public sealed class AspireManifestTests(PublishFixture publish)
{
    private static readonly string[] AcceptedTypes =
        ["project.v0", "project.v1", "container.v0", "container.v1", "dockerfile.v0", "parameter.v0", "value.v0", "annotated.string"];

    private JsonElement Resources()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(publish.ManifestPath));
        return document.RootElement.GetProperty("resources").Clone();
    }

    [Fact]
    public void The_manifest_has_only_resource_types_azd_accepts()
    {
        var types = Resources().EnumerateObject().ToDictionary(resource => resource.Name, resource => resource.Value.GetProperty("type").GetString());
        Assert.All(types, pair => Assert.Contains(pair.Value, AcceptedTypes));
        Assert.DoesNotContain("executable.v0", types.Values);
        Assert.Equal("project.v0", types["gateway"]);
        Assert.Equal("project.v0", types["worker"]);
        Assert.StartsWith("container.", types["messaging"], StringComparison.Ordinal);
    }

    [Fact]
    public void Python_inference_is_built_from_its_committed_Dockerfile()
    {
        var build = Resources().GetProperty("python-inference").GetProperty("build");
        var directory = Path.GetDirectoryName(publish.ManifestPath)!;
        var dockerfile = Path.GetFullPath(build.GetProperty("dockerfile").GetString()!, directory);
        var context = Path.GetFullPath(build.GetProperty("context").GetString()!, directory);
        Assert.Equal(Path.Combine(PublishFixture.RepositoryRoot, "python-inference", "Dockerfile"), dockerfile);
        Assert.True(File.Exists(dockerfile));
        // The image generates its gRPC stubs from protos/, so the context is the repository root.
        Assert.Equal(PublishFixture.RepositoryRoot.TrimEnd('/'), context.TrimEnd('/'));
        Assert.True(File.Exists(Path.Combine(context, "python-inference", "Dockerfile.dockerignore")));
    }

    [Fact]
    public void The_published_gateway_calls_python_inference_over_http_json()
    {
        // A platform that reaches python-inference's second port over TCP would pin one gRPC connection to one replica
        // (docs/deployment.md); the kustomize base balances gRPC itself instead, which the manifest cannot say.
        var env = Resources().GetProperty("gateway").GetProperty("env");
        Assert.Equal("Http", env.GetProperty("Inference__Transport").GetString());
        Assert.False(env.TryGetProperty("Inference__GrpcAddress", out _));
        Assert.False(Resources().GetProperty("worker").GetProperty("env").TryGetProperty("Inference__Transport", out _));
    }

    [Fact]
    public void The_state_is_in_PostgreSQL_shared_by_every_Worker_replica()
    {
        // Published, the Worker's replicas run on several machines: one SQLite file each would split their jobs.
        var resources = Resources();
        Assert.StartsWith("container.", resources.GetProperty("postgres").GetProperty("type").GetString(), StringComparison.Ordinal);
        foreach (var (service, database) in new[] { ("worker", "workerdb"), ("python-inference", "analyticsdb") })
        {
            var env = resources.GetProperty(service).GetProperty("env");
            Assert.Equal("postgres", env.GetProperty("Database__Provider").GetString());
            Assert.Equal($"{{{database}.connectionString}}", env.GetProperty($"ConnectionStrings__{database}").GetString());
            Assert.False(env.TryGetProperty("Jobs__DatabasePath", out _));
        }
    }

    [Fact]
    public void Each_service_gets_only_the_reference_variables_it_reads()
    {
        // Connection strings and service discovery; not Aspire's per-property copies (WORKERDB_HOST, MESSAGING_URI,
        // ..._PASSWORD) nor its endpoint variables (WORKER_HTTP), which nothing reads.
        foreach (var service in new[] { "gateway", "worker", "python-inference" })
        {
            var names = Resources().GetProperty(service).GetProperty("env").EnumerateObject().Select(variable => variable.Name).ToList();
            Assert.Contains(names, name => name.StartsWith("services__", StringComparison.Ordinal));
            Assert.DoesNotContain(names, name => System.Text.RegularExpressions.Regex.IsMatch(
                name, "^(WORKERDB|ANALYTICSDB|MESSAGING|POSTGRES|WORKER|PYTHON_INFERENCE)_(HOST|PORT|USERNAME|PASSWORD|URI|JDBCCONNECTIONSTRING|DATABASENAME|HTTPS?|GRPC)$"));
        }
    }

    [Fact]
    public void The_gateway_trusts_the_ingress_that_ends_TLS()
    {
        // Without it, every token sent through the platform's HTTPS ingress would arrive over plain HTTP and be refused.
        Assert.Equal("true", Resources().GetProperty("gateway").GetProperty("env").GetProperty("Auth__TrustForwardedProto").GetString());
    }

    [Fact]
    public void Secrets_are_secret_parameters()
    {
        foreach (var name in new[] { "webhook-signing-secret", "messaging-password", "worker-token-key-gateway", "worker-token-key-python-inference" })
        {
            var parameter = Resources().GetProperty(name);
            Assert.Equal("parameter.v0", parameter.GetProperty("type").GetString());
            Assert.True(parameter.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        }

        Assert.DoesNotContain("image-registry", Resources().EnumerateObject().Select(resource => resource.Name));
        // The dashboard's commands exist in run mode only: no key of theirs is published, and the Worker is told of none.
        Assert.DoesNotContain("worker-token-key-dashboard", Resources().EnumerateObject().Select(resource => resource.Name));
        Assert.False(Resources().GetProperty("worker").GetProperty("env").TryGetProperty("Auth__Callers__dashboard__SigningKey", out _));
    }
}
