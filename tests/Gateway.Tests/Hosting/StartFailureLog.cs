using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Hosting;

/// <summary>
/// Why a gateway host did not start, as the host itself logs it ("Hosting failed to start", with the exception). A test
/// reads it here rather than from what <c>CreateClient</c> throws: when the host fails, WebApplicationFactory can throw
/// its own ObjectDisposedException instead, the entry point's thread having disposed the host first
/// (dotnet/aspnetcore#33494; seen once in a fresh-clone run of 2026-12-06).
/// </summary>
public sealed class StartFailureLog : ILoggerProvider
{
    private readonly ConcurrentQueue<Exception> _failures = new();

    public IReadOnlyList<Exception> Failures => [.. _failures];

    public ILogger CreateLogger(string categoryName) => new HostLogger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class HostLogger(StartFailureLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (exception is not null && logLevel >= LogLevel.Error && category == "Microsoft.Extensions.Hosting.Internal.Host")
            {
                owner._failures.Enqueue(exception);
            }
        }
    }
}
