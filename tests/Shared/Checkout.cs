namespace TestHarness;

/// <summary>The repository checkout the tests run from.</summary>
internal static class Checkout
{
    /// <summary>The first folder above the test assembly that holds <c>Aspire.sln</c>.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Aspire.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Aspire.sln above {AppContext.BaseDirectory}.");
    }
}
