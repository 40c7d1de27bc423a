using System.Data.Common;
using System.Globalization;
using System.Text;
using Npgsql;

namespace Worker.Persistence;

/// <summary>
/// A statement whose size depends on a batch: rows to insert or join, and lists to match, never values pasted into the
/// SQL. Each provider gets its own form, chosen when the statement is built for a connection. SQLite (in process) gets
/// one numbered parameter per value: <c>(VALUES (@a, @b), (@c, @d)) AS v</c> and <c>IN (@a, @b)</c>. PostgreSQL gets
/// one array parameter per column, <c>unnest(@c1::text[], @c2::text[]) AS v(column1, column2)</c> and
/// <c>= ANY(@list::text[])</c>, so a statement has one text whatever the batch's size: the server parses and plans it
/// once per connection (the Worker's connections prepare what they run often) instead of once per batch, which was
/// a quarter of its time per job (docs/performance-history.md, "Statements of one shape").
/// </summary>
internal sealed class SqlBuilder
{
    private readonly List<object> _parts = []; // StringBuilder (text) or BatchPart, in order
    private readonly List<(string Name, object? Value)> _parameters = [];
    private int _sets;

    public SqlBuilder(string sql) => _parts.Add(new StringBuilder(sql));

    public SqlBuilder Append(string text)
    {
        if (_parts[^1] is StringBuilder last)
        {
            last.Append(text);
        }
        else
        {
            _parts.Add(new StringBuilder(text));
        }

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

    /// <summary>
    /// Appends the rows as a relation named <paramref name="alias"/> whose columns are <c>column1</c>, <c>column2</c>, …
    /// (to select from, join or insert: <c>INSERT INTO t (a, b) SELECT * FROM</c> rows <c>WHERE true</c>, where
    /// SQLite needs the <c>WHERE</c> before an <c>ON CONFLICT</c>). Every row has the same number of values, and each
    /// column values of one type (text, integer, bytes) or null; at least one row. On PostgreSQL a column of nulls only
    /// is text (nothing tells its type), so a nullable column of another type must not be all null in one batch.
    /// </summary>
    public SqlBuilder Rows(IReadOnlyList<object?[]> rows, string alias = "v")
    {
        if (rows.Count == 0 || rows.Any(row => row.Length != rows[0].Length))
        {
            throw new ArgumentException("Rows need at least one row, all of the same width.", nameof(rows));
        }

        _parts.Add(new RowSet(rows, alias, _sets++));
        return this;
    }

    /// <summary>Appends <c>IN (@a, @b, …)</c>, a match against a list of at least one value.</summary>
    public SqlBuilder In(IEnumerable<object?> values)
    {
        var list = values.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("An IN list needs a value.", nameof(values));
        }

        _parts.Add(new ValueList(list, _sets++));
        return this;
    }

    /// <summary>Appends the row constructor <c>(@a, @b, ...)</c> (e.g. to compare <c>(created_at, id) &lt;</c> it).</summary>
    public SqlBuilder List(IEnumerable<object?> values) =>
        Append("(" + string.Join(", ", values.Select(Parameter)) + ")");

    /// <summary>The statement's text and parameters for one provider.</summary>
    private (string Sql, List<(string Name, object? Value)> Parameters) Render(bool postgres)
    {
        if (_parts.Count == 1)
        {
            return (_parts[0].ToString()!, _parameters);
        }

        var sql = new StringBuilder();
        var parameters = new List<(string Name, object? Value)>(_parameters);
        foreach (var part in _parts)
        {
            if (part is StringBuilder text)
            {
                sql.Append(text);
                continue;
            }

            if (sql.Length > 0 && !char.IsWhiteSpace(sql[^1]))
            {
                sql.Append(' '); // a raw string literal ends without its last line break
            }

            ((BatchPart)part).AppendTo(sql, parameters, postgres);
        }

        return (sql.ToString(), parameters);
    }

    /// <summary>
    /// A part of a statement whose text and parameters depend on the provider: one parameter per value on SQLite, one
    /// array parameter on PostgreSQL.
    /// </summary>
    private abstract record BatchPart
    {
        public void AppendTo(StringBuilder sql, List<(string Name, object? Value)> parameters, bool postgres)
        {
            if (postgres)
            {
                AppendArrays(sql, parameters);
            }
            else
            {
                AppendValues(sql, parameters);
            }
        }

        protected abstract void AppendValues(StringBuilder sql, List<(string Name, object? Value)> parameters);

        protected abstract void AppendArrays(StringBuilder sql, List<(string Name, object? Value)> parameters);
    }

    /// <summary>Rows: <c>(VALUES …) AS v</c>, or <c>unnest(…) AS v(column1, …)</c>.</summary>
    private sealed record RowSet(IReadOnlyList<object?[]> Rows, string Alias, int Number) : BatchPart
    {
        protected override void AppendValues(StringBuilder sql, List<(string Name, object? Value)> parameters)
        {
            sql.Append("(VALUES ");
            for (var row = 0; row < Rows.Count; row++)
            {
                sql.Append(row > 0 ? ", (" : "(");
                for (var column = 0; column < Rows[row].Length; column++)
                {
                    var name = string.Create(CultureInfo.InvariantCulture, $"@r{Number}_{row}_{column}");
                    sql.Append(column > 0 ? ", " : "").Append(name);
                    parameters.Add((name, Rows[row][column]));
                }

                sql.Append(')');
            }

            sql.Append(") AS ").Append(Alias);
        }

        protected override void AppendArrays(StringBuilder sql, List<(string Name, object? Value)> parameters)
        {
            var width = Rows[0].Length;
            sql.Append("unnest(");
            for (var column = 0; column < width; column++)
            {
                var (array, type) = PostgresArray.Of(Rows.Select(row => row[column]).ToList());
                var name = string.Create(CultureInfo.InvariantCulture, $"@r{Number}_{column}");
                sql.Append(column > 0 ? ", " : "").Append(name).Append("::").Append(type);
                parameters.Add((name, array));
            }

            sql.Append(") AS ").Append(Alias).Append('(')
                .AppendJoin(", ", Enumerable.Range(1, width).Select(column => "column" + column.ToString(CultureInfo.InvariantCulture)))
                .Append(')');
        }
    }

    /// <summary>A list: <c>IN (…)</c>, or <c>= ANY(…)</c>.</summary>
    private sealed record ValueList(IReadOnlyList<object?> Values, int Number) : BatchPart
    {
        protected override void AppendValues(StringBuilder sql, List<(string Name, object? Value)> parameters)
        {
            sql.Append("IN (");
            for (var i = 0; i < Values.Count; i++)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"@l{Number}_{i}");
                sql.Append(i > 0 ? ", " : "").Append(name);
                parameters.Add((name, Values[i]));
            }

            sql.Append(')');
        }

        protected override void AppendArrays(StringBuilder sql, List<(string Name, object? Value)> parameters)
        {
            var (array, type) = PostgresArray.Of(Values);
            var name = string.Create(CultureInfo.InvariantCulture, $"@l{Number}");
            sql.Append("= ANY(").Append(name).Append("::").Append(type).Append(')');
            parameters.Add((name, array));
        }
    }

    /// <summary>A column's values as one PostgreSQL array parameter, and its type (all nulls are a text column).</summary>
    private static class PostgresArray
    {
        public static (object Array, string Type) Of(IReadOnlyList<object?> values)
        {
            var kind = values.FirstOrDefault(value => value is not null)?.GetType() ?? typeof(string);
            if (values.Any(value => value is not null && value.GetType() != kind))
            {
                throw new ArgumentException($"A column mixes {kind.Name} with other types.", nameof(values));
            }

            return kind == typeof(string) ? (values.Select(value => (string?)value).ToArray(), "text[]")
                : kind == typeof(int) ? (values.Select(value => (int?)value).ToArray(), "integer[]")
                : kind == typeof(long) ? (values.Select(value => (long?)value).ToArray(), "bigint[]")
                : kind == typeof(byte[]) ? (values.Select(value => (byte[]?)value).ToArray(), "bytea[]")
                : throw new ArgumentException($"No array type for {kind.Name}.", nameof(values));
        }
    }

    public DbCommand Build(DbConnection connection, DbTransaction? transaction)
    {
        var (sql, parameters) = Render(connection is NpgsqlConnection);
        return WorkerDatabase.Command(connection, transaction, sql, [.. parameters]);
    }

    /// <summary>The statement as one command of a <see cref="DbBatch"/>.</summary>
    public DbBatchCommand BuildBatchCommand(DbBatch batch)
    {
        var (sql, parameters) = Render(batch is NpgsqlBatch);
        var command = batch.CreateBatchCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
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
