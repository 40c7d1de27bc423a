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

    [Fact]
    public Task A_database_runtime_that_does_not_exist_is_refused_when_publishing_too() =>
        AssertManifestRefusedAsync(["--Database:Runtime", "externl"],
            "Database:Runtime is 'externl'; expected container, local or external.");

    [Fact]
    public Task A_broker_runtime_that_does_not_exist_is_refused_when_publishing_too() =>
        AssertManifestRefusedAsync(["--Messaging:Runtime", "containr"],
            "Messaging:Runtime is 'containr'; expected container, local or external.");

    [Fact]
    public Task Publishing_with_SQLite_is_refused_with_why_since_the_replicas_share_their_jobs() =>
        AssertManifestRefusedAsync(["--Database:Provider", "sqlite"],
            "Database:Provider is sqlite, which keeps the state in files of one machine");

    /// <summary>Publishing the Aspire manifest with <paramref name="settings"/> exits non-zero, says <paramref name="why"/>, and writes no manifest.</summary>
    private static async Task AssertManifestRefusedAsync(string[] settings, string why)
    {
        var manifest = Path.Combine(Path.GetTempPath(), $"deployment-tests-refused-{Guid.NewGuid():N}", "aspire-manifest.json");
        try
        {
            var result = await PublishFixture.RunAppHostAsync(expectSuccess: false,
                ["--publisher", "manifest", "--output-path", manifest, .. settings]);
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains(why, result.All, StringComparison.Ordinal);
            Assert.False(File.Exists(manifest));
        }
        finally
        {
            if (Path.GetDirectoryName(manifest) is { } folder && Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
