using Aspire.Hosting.ApplicationModel;

namespace AppHost;

/// <summary>
/// Where a local run keeps the state of the processes it starts (broker data, the job database). Every run gets
/// its own folder, so runs and test runs never share or inherit state; folders of runs older than two days are
/// removed when a new run starts.
/// </summary>
internal static class LocalState
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "aspire-ml-gateway");
    private static readonly Lazy<string> RunDirectory = new(CreateRunDirectory);

    public static string RunId => Path.GetFileName(RunDirectory.Value);

    public static string DirectoryFor(string component)
    {
        var path = Path.Combine(RunDirectory.Value, component);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Gives the Worker a SQLite job database in this run's state folder (run mode only).</summary>
    public static IResourceBuilder<ProjectResource> WithJobDatabase(
        this IResourceBuilder<ProjectResource> worker, IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsRunMode)
        {
            worker.WithEnvironment("Jobs__DatabasePath", Path.Combine(DirectoryFor(worker.Resource.Name), "jobs.db"));
        }

        return worker;
    }

    /// <summary>Gives python-inference's analytics consumer its SQLite file in this run's state folder (run mode only).</summary>
    public static IResourceBuilder<T> WithAnalyticsDatabase<T>(this IResourceBuilder<T> inference, IDistributedApplicationBuilder builder)
        where T : IResourceWithEnvironment
    {
        if (builder.ExecutionContext.IsRunMode)
        {
            inference.WithEnvironment("ANALYTICS_DB_PATH", Path.Combine(DirectoryFor(inference.Resource.Name), "analytics.db"));
        }

        return inference;
    }

    private static string CreateRunDirectory()
    {
        Directory.CreateDirectory(Root);
        foreach (var old in new DirectoryInfo(Root).EnumerateDirectories())
        {
            if (old.LastWriteTimeUtc < DateTime.UtcNow.AddDays(-2))
            {
                try { old.Delete(recursive: true); }
                catch (IOException) { /* still in use by a run that has not ended; try again next time */ }
                catch (UnauthorizedAccessException) { }
            }
        }

        var run = Path.Combine(Root, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}");
        Directory.CreateDirectory(run);
        return run;
    }
}
