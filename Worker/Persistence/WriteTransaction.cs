using System.Data.Common;

namespace Worker.Persistence;

/// <summary>
/// This process's turn to write (<see cref="SqlDialect.WaitToWriteAsync(DbConnection?, CancellationToken)"/>); disposing
/// it passes the turn on, once SQLite's writer has read once to leave a read mark at the WAL's end
/// (<see cref="SqliteDialect.MarkTheWalsEnd"/>). Disposing it twice passes it on once.
/// </summary>
public sealed class WriteTurn : IDisposable
{
    /// <summary>The turn of a database that lets its writers in together (PostgreSQL): nothing to wait for or pass on.</summary>
    internal static readonly WriteTurn Unrestricted = new(null);

    private SemaphoreSlim? _gate;
    private readonly Microsoft.Data.Sqlite.SqliteConnection? _writer;

    internal WriteTurn(SemaphoreSlim? gate, Microsoft.Data.Sqlite.SqliteConnection? writer = null) => (_gate, _writer) = (gate, writer);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _gate, null) is not { } gate)
        {
            return;
        }

        try
        {
            SqliteDialect.MarkTheWalsEnd(_writer);
        }
        finally
        {
            gate.Release();
        }
    }
}

/// <summary>
/// A write transaction and the turn it was begun in (<see cref="SqlDialect.BeginWriteAsync"/>): the turn is passed on
/// once the transaction has ended (committed, or rolled back by disposing it). It converts to the
/// <see cref="DbTransaction"/> that commands take.
/// </summary>
public sealed class WriteTransaction(DbTransaction transaction, WriteTurn turn) : IAsyncDisposable
{
    public DbTransaction Transaction => transaction;

    public Task CommitAsync(CancellationToken cancellationToken) => transaction.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await transaction.DisposeAsync();
        }
        finally
        {
            turn.Dispose();
        }
    }

    public static implicit operator DbTransaction(WriteTransaction write) => write.Transaction;
}
