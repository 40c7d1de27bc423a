using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(AppHost.Tests.PostgresFirstCollectionOrderer))]

namespace AppHost.Tests;

/// <summary>
/// Queues <see cref="PostgresCollection"/> ahead of the other test collections; the rest keep xunit's default order.
/// xunit runs at most as many collections at once as the machine has cores (two here) and each holds its slot until
/// all its tests are done; the non-parallel <see cref="OutageCollection"/> waits for every one of them. The PostgreSQL
/// collection is the longest (its own stack's start and stop, the thousand-jobs kill test): queued last, it ran alone
/// while the other slot stood idle and the outage tests waited behind it. Queued first, it runs beside the SQLite
/// stack's classes. Only the order changes: what runs beside what is still xunit's choice, as before.
/// </summary>
public sealed class PostgresFirstCollectionOrderer : ITestCollectionOrderer
{
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection =>
        [.. testCollections
            .OrderBy(collection => collection.TestCollectionDisplayName == nameof(PostgresCollection) ? 0 : 1)
            .ThenBy(collection => collection.UniqueID, StringComparer.Ordinal)];
}
