using Tests.Postgres;

[assembly: AssemblyFixture(typeof(Worker.Tests.PostgresServerFixture))]

namespace Worker.Tests;

/// <summary>Stops the test process's PostgreSQL server (started by the first test that needs it) when the assembly is done.</summary>
public sealed class PostgresServerFixture : IAsyncDisposable
{
    public ValueTask DisposeAsync() => new(PostgresTestServer.StopSharedAsync());
}
