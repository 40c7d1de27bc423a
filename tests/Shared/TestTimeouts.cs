// Every [Fact] and [Theory] of the test projects is one of these (the aliases win over `using Xunit`), so every test
// has a time limit and a hang becomes a named failure, "Test execution timed out after N milliseconds", instead of
// a run that never ends. A test may still set its own: [Fact(Timeout = 10_000)].
global using FactAttribute = TestHarness.TimedFactAttribute;
global using TheoryAttribute = TestHarness.TimedTheoryAttribute;

using System.Reflection;
using System.Runtime.CompilerServices;

namespace TestHarness;

/// <summary>
/// The limit of one test: the project's <c>TestTimeoutSeconds</c> (tests/Directory.Build.props; the end-to-end
/// project sets a longer one), which this file, compiled into each test project, reads from its own assembly.
/// </summary>
internal static class TestTimeouts
{
    public static readonly int PerTestMilliseconds = checked(1000 * int.Parse(
        typeof(TestTimeouts).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "TestTimeoutSeconds").Value!,
        System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>xunit's <see cref="Xunit.FactAttribute"/> with the project's time limit unless the test sets one.</summary>
internal sealed class TimedFactAttribute : Xunit.FactAttribute
{
    public TimedFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber) => Timeout = TestTimeouts.PerTestMilliseconds;
}

/// <summary>xunit's <see cref="Xunit.TheoryAttribute"/> with the project's time limit unless the test sets one.</summary>
internal sealed class TimedTheoryAttribute : Xunit.TheoryAttribute
{
    public TimedTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber) => Timeout = TestTimeouts.PerTestMilliseconds;
}
