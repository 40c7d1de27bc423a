namespace AppHost.Deployment;

internal static class KustomizeWriter
{
    /// <summary>
    /// Writes (overwrites) the generated files. Files the operator made (the filled-in <c>*.env</c>) are left alone.
    /// </summary>
    public static async Task WriteAsync(string outputDirectory, IEnumerable<KustomizeFile> files, CancellationToken cancellationToken)
    {
        foreach (var file in files)
        {
            var path = Path.Combine(outputDirectory, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var content = file.Content.EndsWith('\n') ? file.Content : file.Content + "\n";
            await File.WriteAllTextAsync(path, content, cancellationToken);
        }
    }
}
