namespace Deployment.Tests;

public sealed class PublishFailureTests
{
    [Fact]
    public async Task A_failed_Kubernetes_publish_exits_non_zero()
    {
        var output = Path.Combine(Path.GetTempPath(), $"deployment-tests-failed-{Guid.NewGuid():N}");
        try
        {
            var result = await PublishFixture.RunAppHostAsync(expectSuccess: false,
                "--operation", "publish", "--step", "publish", "--output-path", output,
                "--Deployment:Kubernetes:MaxReplicas", "0");
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("Deployment:Kubernetes is invalid", result.All, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(output, "kustomization.yaml")));
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
