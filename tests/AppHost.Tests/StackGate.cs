using System.Collections.Concurrent;
using System.Reflection;
using Xunit.v3;

[assembly: AppHost.Tests.SqliteStackGate]

namespace AppHost.Tests;

/// <summary>
/// Admits the tests of the SQLite stack: any number of ordinary ones together, or one test of <see cref="OutageCollection"/>
/// (those stop, kill, pause or reconfigure its services) with none beside it. Tests of the other stack, and tests that
/// start no stack, pass untouched.
/// </summary>
/// <remarks>
/// xunit alone could only say "this collection runs after every other one" (<c>DisableParallelization</c>), which
/// kept the PostgreSQL stack idle for the two minutes the outage tests took. With this gate the outage collection
/// runs beside the PostgreSQL collection, and whatever order xunit picks, no ordinary test meets a stopped service.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class SqliteStackGateAttribute : BeforeAfterTestAttribute
{
    private static readonly SharedExclusiveGate Gate = new();
    private static readonly ConcurrentDictionary<string, IDisposable> Held = new();

    // xunit 4's hooks are synchronous: a test that waits for the gate blocks its thread until it may go on.
    public override void Before(MethodInfo methodUnderTest, IXunitTest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        var testClass = test.TestMethod.TestClass.Class;
        if (UsesTheSqliteStack(testClass))
        {
            Held[test.UniqueID] = test.TestCase.TestCollection.TestCollectionDisplayName == nameof(OutageTests)
                ? Gate.EnterExclusive()
                : Gate.EnterShared();
        }
    }

    public override void After(MethodInfo methodUnderTest, IXunitTest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        if (Held.TryRemove(test.UniqueID, out var pass))
        {
            pass.Dispose();
        }
    }

    /// <summary>A class of the SQLite stack takes <see cref="AppHostFixture"/> itself, not a subclass, in its constructor.</summary>
    private static bool UsesTheSqliteStack(Type testClass) =>
        testClass.GetConstructors().SelectMany(constructor => constructor.GetParameters())
            .Any(parameter => parameter.ParameterType == typeof(AppHostFixture));
}

/// <summary>
/// A readers-writer gate whose passes may be given back on another thread (unlike <see cref="ReaderWriterLockSlim"/>):
/// shared passes together, an exclusive pass alone. A waiting exclusive caller holds back new shared ones, so a stream
/// of short shared tests cannot starve it.
/// </summary>
internal sealed class SharedExclusiveGate : IDisposable
{
    private readonly SemaphoreSlim _turnstile = new(1, 1);
    private readonly SemaphoreSlim _room = new(1, 1);
    private readonly object _count = new();
    private int _shared;

    public IDisposable EnterShared()
    {
        // Through the turnstile at once unless an exclusive caller holds it (waiting for the room or in it).
        _turnstile.Wait();
        _turnstile.Release();
        lock (_count)
        {
            if (++_shared == 1)
            {
                _room.Wait(); // the first shared caller waits out an exclusive one still in the room
            }
        }

        return new Pass(() =>
        {
            lock (_count)
            {
                if (--_shared == 0)
                {
                    _room.Release();
                }
            }
        });
    }

    public IDisposable EnterExclusive()
    {
        _turnstile.Wait();
        _room.Wait();
        return new Pass(() =>
        {
            _room.Release();
            _turnstile.Release();
        });
    }

    public void Dispose()
    {
        _turnstile.Dispose();
        _room.Dispose();
    }

    /// <summary>Leaves the gate when disposed, once.</summary>
    private sealed class Pass(Action leave) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                leave();
            }
        }
    }
}
