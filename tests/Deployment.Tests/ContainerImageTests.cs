using System.Xml.Linq;

namespace Deployment.Tests;

/// <summary>What can be checked of the images without building them (no daemon or base-image registry here).</summary>
public sealed class ContainerImageTests
{
    private static readonly string Dockerfile = File.ReadAllText(
        Path.Combine(PublishFixture.RepositoryRoot, "python-inference", "Dockerfile"));

    [Theory]
    [InlineData("Gateway", "gateway")]
    [InlineData("Worker", "worker")]
    public void The_csharp_services_publish_containers_named_as_the_kustomize_images(string project, string repository)
    {
        var properties = XDocument.Load(Path.Combine(PublishFixture.RepositoryRoot, project, $"{project}.csproj"))
            .Descendants().ToLookup(element => element.Name.LocalName, element => element.Value);
        Assert.Equal([repository], properties["ContainerRepository"]);
        Assert.Equal(["true"], properties["EnableSdkContainerSupport"]);
        // Numeric, so Kubernetes' runAsNonRoot can verify it; the uid the base writes into the pod spec.
        Assert.Equal(["1654"], properties["ContainerUser"]);
        Assert.Contains("chiseled", Assert.Single(properties["ContainerBaseImage"]), StringComparison.Ordinal);
    }

    [Fact]
    public void The_python_image_is_multi_stage_and_runs_as_a_non_root_user()
    {
        var stages = Dockerfile.Split("\nFROM ", StringSplitOptions.None);
        Assert.True(stages.Length >= 3, "a build stage and a runtime stage");
        var runtime = stages[^1];
        Assert.Contains("USER 10001:10001", runtime, StringComparison.Ordinal);
        Assert.Contains("ENTRYPOINT", runtime, StringComparison.Ordinal); // the manifest's container has no args
        // The final stage copies what the build made; it installs nothing and generates nothing.
        Assert.DoesNotContain("pip install", runtime, StringComparison.Ordinal);
        Assert.DoesNotContain("apt-get", runtime, StringComparison.Ordinal);
        Assert.DoesNotContain("grpc_tools", runtime, StringComparison.Ordinal);
        Assert.Contains("grpc_tools.protoc", stages[^2], StringComparison.Ordinal);
    }
}
