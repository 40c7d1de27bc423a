using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AppHost.Tests;

/// <summary>
/// The last lines each resource of the test stack wrote (its console output, which Aspire's testing host forwards as
/// log categories <c>AppHost.Resources.&lt;resource&gt;</c>), kept in memory whether or not they are shown, so that a
/// resource that never became healthy says why in the fixture's failure (a gateway once exited with 134 at start in a
/// CI run, and nothing was left to read).
/// </summary>
internal sealed class ResourceLogTail : ILoggerProvider
{
    public const string CategoryPrefix = "AppHost.Resources";
    private const int LinesKept = 60;

    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _lines = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith(CategoryPrefix + ".", StringComparison.Ordinal)
            ? new Tail(_lines.GetOrAdd(categoryName[(CategoryPrefix.Length + 1)..], _ => new ConcurrentQueue<string>()))
            : NullLogger.Instance;

    /// <summary>The resource's last lines, oldest first (its replicas' too: their categories start with its name).</summary>
    public string LastLines(string resource) => string.Join(Environment.NewLine, _lines
        .Where(entry => entry.Key == resource || entry.Key.StartsWith(resource + "-", StringComparison.Ordinal))
        .SelectMany(entry => entry.Value.Select(line => $"[{entry.Key}] {line}")));

    public void Dispose()
    {
    }

    private sealed class Tail(ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            lines.Enqueue(formatter(state, exception));
            while (lines.Count > LinesKept && lines.TryDequeue(out _))
            {
            }
        }
    }
}
