using System.Diagnostics;
using System.Text;
using k8s;
using k8s.Models;

namespace Deployment.Tests;

/// <summary>
/// Runs the AppHost's two publish commands once (as an operator would, <c>dotnet run --no-build</c>), fills the
/// secret env files from their examples with test values, and renders the base with <c>kubectl kustomize</c>.
/// </summary>
public sealed class PublishFixture : IAsyncLifetime
{
    public const string ImageRegistry = "registry.test/ml";
    public const string ImageTag = "1.2.3";
    public const string IngressHost = "api.test.example";
    public const int GatewayMaxReplicas = 9;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    public static string RepositoryRoot => TestHarness.Checkout.Root;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"deployment-tests-{Guid.NewGuid():N}");

    public string BaseDirectory => Path.Combine(Root, "k8s");

    public string ManifestPath => Path.Combine(Root, "manifest", "aspire-manifest.json");

    /// <summary>The base published with <c>Messaging:Runtime</c> and <c>Database:Runtime</c> external.</summary>
    public string ExternalBaseDirectory => Path.Combine(Root, "k8s-external");

    public IReadOnlyList<object> ExternalObjects { get; private set; } = [];

    public string RenderedBase { get; private set; } = "";

    public string RenderedWithDashboard { get; private set; } = "";

    /// <summary>The external variant's model repository: a path inside python-inference's image (docs/models.md).</summary>
    public const string ImageModelRepository = "/srv/models";

    /// <summary>Every object of the rendered base, typed.</summary>
    public IReadOnlyList<object> Objects { get; private set; } = [];

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        await Task.WhenAll(
            RunAppHostAsync(expectSuccess: true, "--operation", "publish", "--step", "publish", "--output-path", BaseDirectory,
                "--Parameters:image-registry", ImageRegistry, "--Parameters:image-tag", ImageTag,
                "--Deployment:Kubernetes:IngressHost", IngressHost,
                "--Deployment:Kubernetes:Autoscaling:gateway:MaxReplicas", $"{GatewayMaxReplicas}"),
            RunAppHostAsync(expectSuccess: true, "--publisher", "manifest", "--output-path", ManifestPath),
            RunAppHostAsync(expectSuccess: true, "--operation", "publish", "--step", "publish", "--output-path", ExternalBaseDirectory,
                "--Messaging:Runtime", "external", "--Database:Runtime", "external", "--Gateway:InferenceTransport", "Http",
                "--PythonInference:ModelRepository", ImageModelRepository, "--PythonInference:BuiltInModels", "none"));

        // The operator's part: fill in every secret the examples name (values only for this test).
        foreach (var example in Directory.GetFiles(Root, "*.env.example", SearchOption.AllDirectories))
        {
            var filled = File.ReadLines(example)
                .Select(line => line.StartsWith('#') || !line.EndsWith('=') ? line : line + "TestValue0123456789");
            await File.WriteAllLinesAsync(example[..^".example".Length], filled);
        }

        RenderedBase = (await RunAsync("kubectl", ["kustomize", BaseDirectory])).Output;
        var overlay = Path.Combine(Root, "overlay-with-dashboard");
        Directory.CreateDirectory(overlay);
        await File.WriteAllTextAsync(Path.Combine(overlay, "kustomization.yaml"),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../k8s\ncomponents:\n- ../k8s/components/dashboard\n");
        RenderedWithDashboard = (await RunAsync("kubectl", ["kustomize", overlay])).Output;
        Objects = KubernetesYaml.LoadAllFromString(RenderedBase, strict: true);
        ExternalObjects = KubernetesYaml.LoadAllFromString(
            (await RunAsync("kubectl", ["kustomize", ExternalBaseDirectory])).Output, strict: true);
    }

    public ValueTask DisposeAsync()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        return ValueTask.CompletedTask;
    }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();

    public static async Task<CommandResult> RunAppHostAsync(bool expectSuccess, params string[] arguments)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}",
            StringComparison.Ordinal) ? "Release" : "Debug";
        return await RunAsync("dotnet",
            ["run", "--project", Path.Combine(RepositoryRoot, "AppHost"), "--no-build", "-c", configuration, "--", .. arguments],
            expectSuccess);
    }

    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> arguments, bool expectSuccess = true)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish in {CommandTimeout}.");
        }

        var result = new CommandResult(process.ExitCode, await output, await error);
        if (expectSuccess && result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{fileName} {string.Join(' ', start.ArgumentList)} exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        }

        return result;
    }
}

public sealed record CommandResult(int ExitCode, string Output, string Error)
{
    public string All => new StringBuilder(Output).AppendLine().Append(Error).ToString();
}

[CollectionDefinition(Name)]
public sealed class PublishCollection : ICollectionFixture<PublishFixture>
{
    public const string Name = "publish";
}
