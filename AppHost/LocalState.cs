namespace AppHost;

/// <summary>
/// Where a local run keeps the state of the processes it starts (broker data, the job database). Every run gets
/// its own folder, so runs and test runs never share or inherit state; folders of runs older than two days are
/// removed when a new run starts. One folder per application builder: two AppHosts in one process (the end-to-end
/// tests' SQLite and PostgreSQL stacks) never share a broker's node name or a data folder.
/// </summary>
internal sealed class LocalState
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "aspire-ml-gateway");
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IDistributedApplicationBuilder, LocalState> Runs = new();

    private readonly Lazy<string> _runDirectory = new(CreateRunDirectory);

    /// <summary>The state of the run <paramref name="builder"/> describes.</summary>
    public static LocalState For(IDistributedApplicationBuilder builder) => Runs.GetValue(builder, _ => new LocalState());

    public string RunId => Path.GetFileName(_runDirectory.Value);

    public string DirectoryFor(string component)
    {
        var path = Path.Combine(_runDirectory.Value, component);
        Directory.CreateDirectory(path);
        return path;
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
