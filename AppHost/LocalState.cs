namespace AppHost;

/// <summary>
/// Where a local run keeps the state of the processes it starts (broker data, the job database). Every run gets
/// its own folder, so runs and test runs never share or inherit state; folders of runs older than two days are
/// removed when a new run starts. One folder per application builder: two AppHosts in one process (the end-to-end
/// tests' SQLite and PostgreSQL stacks) never share a broker's node name or a data folder.
/// The folders are under the system's temporary folder, or under <c>LocalState:Root</c> when it is set: another disk
/// for the broker's data and the databases (the chaos run's, whose disk it stalls on purpose).
/// </summary>
internal sealed class LocalState
{
    /// <summary>The configuration key naming the folder the per-user folder is made in (default: the temporary folder).</summary>
    public const string RootKey = "LocalState:Root";

    /// <summary>rwx for the owner only.</summary>
    public const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IDistributedApplicationBuilder, LocalState> Runs = new();

    // Per user, and private: the folders hold the broker's Erlang cookie, generated credentials and the job database.
    private readonly string _root;
    private readonly Lazy<string> _runDirectory;

    private LocalState(string? parent)
    {
        _root = Path.Combine(string.IsNullOrWhiteSpace(parent) ? Path.GetTempPath() : Path.GetFullPath(parent),
            $"aspire-ml-gateway-{Environment.UserName}");
        _runDirectory = new(CreateRunDirectory);
    }

    /// <summary>The state of the run <paramref name="builder"/> describes.</summary>
    public static LocalState For(IDistributedApplicationBuilder builder) =>
        Runs.GetValue(builder, b => new LocalState(b.Configuration[RootKey]));

    public string RunId => Path.GetFileName(_runDirectory.Value);

    public string RunDirectory => _runDirectory.Value;

    public string DirectoryFor(string component) => CreatePrivateDirectory(Path.Combine(_runDirectory.Value, component));

    /// <summary>
    /// Lets another local user (the postgres account a root run starts PostgreSQL as) pass through the run's folders
    /// to its own component folder, without listing them: mode 0711 on the root and the run folder.
    /// </summary>
    public void AllowTraversal()
    {
        if (!OperatingSystem.IsWindows())
        {
            var traverse = PrivateDirectory | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            File.SetUnixFileMode(_root, traverse);
            File.SetUnixFileMode(_runDirectory.Value, traverse);
        }
    }

    /// <summary>
    /// Creates (or takes over) a folder only its owner can enter. A path that is a symbolic link, or a folder of
    /// another user (whose mode cannot be set), is refused: another user could read or plant state there.
    /// </summary>
    private static string CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return path;
        }

        Directory.CreateDirectory(path, PrivateDirectory);
        if (new DirectoryInfo(path).LinkTarget is not null)
        {
            throw new DistributedApplicationException($"The state folder {path} is a symbolic link; remove it.");
        }

        try
        {
            // A folder made earlier with the default mode loses everything but the traversal a root run with the
            // local PostgreSQL allows (AllowTraversal); setting the mode at all fails on another user's folder.
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) & (PrivateDirectory | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute));
        }
        catch (UnauthorizedAccessException)
        {
            throw new DistributedApplicationException($"The state folder {path} belongs to another user; remove it.");
        }

        return path;
    }

    private string CreateRunDirectory()
    {
        CreatePrivateDirectory(_root);
        foreach (var old in new DirectoryInfo(_root).EnumerateDirectories())
        {
            if (old.LastWriteTimeUtc < DateTime.UtcNow.AddDays(-2))
            {
                try { old.Delete(recursive: true); }
                catch (IOException) { /* still in use by a run that has not ended; try again next time */ }
                catch (UnauthorizedAccessException) { }
            }
        }

        return CreatePrivateDirectory(Path.Combine(_root, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}"));
    }
}
