using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(AppHost.Tests.StackCollectionOrderer))]

namespace AppHost.Tests;

/// <summary>
/// Queues <see cref="PostgresCollection"/> first and <see cref="OutageCollection"/> last; the rest keep xunit's
/// default order. xunit runs about as many collections at once as the machine has cores (two here), and the PostgreSQL
/// collection (its own stack's start, the thousand-jobs kill test) is the longest: queued first, it starts its stack
/// while the SQLite stack's short classes run, and its tests then run beside the outage collection, which is mostly
/// waiting on kills and restarts. Only the order is chosen here; <see cref="SqliteStackGateAttribute"/> keeps the
/// outage tests alone on the SQLite stack whatever xunit runs beside them.
/// </summary>
public sealed class StackCollectionOrderer : ITestCollectionOrderer
{
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection =>
        [.. testCollections
            .OrderBy(collection => collection.TestCollectionDisplayName switch
            {
                nameof(PostgresCollection) => 0,
                nameof(OutageTests) => 2,
                _ => 1,
            })
            .ThenBy(collection => collection.UniqueID, StringComparer.Ordinal)];
}
