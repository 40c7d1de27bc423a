using System.Data.Common;
using System.Globalization;
using System.Text;

namespace Worker.Persistence;

/// <summary>
/// A statement whose size depends on a batch: multi-row <c>VALUES</c> and <c>IN</c> lists with one numbered
/// parameter per value (one round trip for the batch, never values pasted into the SQL).
/// </summary>
internal sealed class SqlBuilder(string sql)
{
    private readonly StringBuilder _sql = new(sql);
    private readonly List<(string Name, object? Value)> _parameters = [];
    private int _rows;

    public SqlBuilder Append(string text)
    {
        _sql.Append(text);
        return this;
    }

    /// <summary>Adds a parameter and returns its name, to be written into the statement.</summary>
    public string Parameter(object? value)
    {
        var name = "@p" + _parameters.Count.ToString(CultureInfo.InvariantCulture);
        _parameters.Add((name, value));
        return name;
    }

    /// <summary>Adds a parameter the statement names itself (e.g. <c>@owner</c>).</summary>
    public SqlBuilder With(string name, object? value)
    {
        _parameters.Add((name, value));
        return this;
    }

    /// <summary>Appends <c>(@a, @b, ...)</c>, after a comma if a row came before.</summary>
    public SqlBuilder Row(params object?[] values)
    {
        if (_rows++ > 0)
        {
            _sql.Append(", ");
        }

        return List(values);
    }

    /// <summary>Appends <c>(@a, @b, ...)</c>.</summary>
    public SqlBuilder List(IEnumerable<object?> values)
    {
        _sql.Append('(');
        var first = true;
        foreach (var value in values)
        {
            _sql.Append(first ? "" : ", ").Append(Parameter(value));
            first = false;
        }

        _sql.Append(')');
        return this;
    }

    public DbCommand Build(DbConnection connection, DbTransaction? transaction) =>
        WorkerDatabase.Command(connection, transaction, _sql.ToString(), [.. _parameters]);

    /// <summary>The statement as one command of a <see cref="DbBatch"/>.</summary>
    public DbBatchCommand BuildBatchCommand(DbBatch batch)
    {
        var command = batch.CreateBatchCommand();
        command.CommandText = _sql.ToString();
        foreach (var (name, value) in _parameters)
        {
            command.Parameters.Add(WorkerDatabase.Parameter(command.CreateParameter(), name, value));
        }

        return command;
    }

    /// <summary>
    /// Runs <paramref name="statements"/> in order inside <paramref name="transaction"/> and returns the first column of
    /// each one's rows (each must return rows: a SELECT, or a RETURNING clause). Where the provider batches (PostgreSQL)
    /// they travel in one round trip; SQLite, in process, runs them one after the other.
    /// </summary>
    public static async Task<List<List<object?>>> ReadTogetherAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyList<SqlBuilder> statements, CancellationToken cancellationToken)
    {
        var results = new List<List<object?>>(statements.Count);
        if (!connection.CanCreateBatch)
        {
            foreach (var statement in statements)
            {
                await using var command = statement.Build(connection, transaction);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                results.Add(await ReadColumnAsync(reader, cancellationToken));
            }

            return results;
        }

        await using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        foreach (var statement in statements)
        {
            batch.BatchCommands.Add(statement.BuildBatchCommand(batch));
        }

        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            do
            {
                results.Add(await ReadColumnAsync(reader, cancellationToken));
            }
            while (await reader.NextResultAsync(cancellationToken));
        }

        if (results.Count != statements.Count)
        {
            throw new InvalidOperationException($"{statements.Count} statements gave {results.Count} results; each must return rows.");
        }

        return results;
    }

    private static async Task<List<object?>> ReadColumnAsync(DbDataReader reader, CancellationToken cancellationToken)
    {
        var values = new List<object?>();
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.IsDBNull(0) ? null : reader.GetValue(0));
        }

        return values;
    }

    public async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = Build(connection, transaction);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs the statement and collects its first column (e.g. the ids of a <c>RETURNING id</c>).</summary>
    public async Task<HashSet<string>> ReadStringsAsync(DbConnection connection, DbTransaction? transaction,
        CancellationToken cancellationToken)
    {
        await using var command = Build(connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var values = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
