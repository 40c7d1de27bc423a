using System.Data.Common;

namespace Worker.Persistence;

/// <summary>
/// This process's turn to write (<see cref="SqlDialect.WaitToWriteAsync"/>); disposing it passes the turn on. Disposing
/// it twice passes it on once.
/// </summary>
public sealed class WriteTurn : IDisposable
{
    /// <summary>The turn of a database that lets its writers in together (PostgreSQL): nothing to wait for or pass on.</summary>
    internal static readonly WriteTurn Unrestricted = new(null);

    private SemaphoreSlim? _gate;

    internal WriteTurn(SemaphoreSlim? gate) => _gate = gate;

    public void Dispose() => Interlocked.Exchange(ref _gate, null)?.Release();
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
