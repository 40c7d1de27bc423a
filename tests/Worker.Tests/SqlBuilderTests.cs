using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using Worker.Persistence;

namespace Worker.Tests;

/// <summary>
/// Batch statements in each provider's form: numbered parameters for SQLite, one array per column for PostgreSQL, so
/// that on PostgreSQL a statement's text is the same whatever the batch's size (it is parsed and planned once per
/// connection, not once per batch).
/// </summary>
public sealed class SqlBuilderTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static SqlBuilder Insert(int rows) =>
        new SqlBuilder("INSERT INTO t (a, b) SELECT * FROM")
            .Rows([.. Enumerable.Range(0, rows).Select(i => new object?[] { $"id{i}", i })])
            .Append(" WHERE true");

    private static SqlBuilder Match(int values) =>
        new SqlBuilder("DELETE FROM t WHERE a").In(Enumerable.Range(0, values).Select(i => (object?)$"id{i}"));

    private static string Text(SqlBuilder statement, DbConnection connection)
    {
        using var command = statement.Build(connection, null);
        return command.CommandText;
    }

    [Fact]
    public void On_postgresql_a_statement_has_one_text_whatever_the_batchs_size()
    {
        using var connection = new NpgsqlConnection();

        Assert.Equal("INSERT INTO t (a, b) SELECT * FROM unnest(@r0_0::text[], @r0_1::integer[]) AS v(column1, column2) WHERE true",
            Text(Insert(1), connection));
        Assert.Equal(Text(Insert(1), connection), Text(Insert(60), connection));
        Assert.Equal("DELETE FROM t WHERE a = ANY(@l0::text[])", Text(Match(1), connection));
        Assert.Equal(Text(Match(1), connection), Text(Match(60), connection));
    }

    [Fact]
    public void On_sqlite_each_value_is_a_parameter_of_its_own()
    {
        using var connection = new SqliteConnection();

        Assert.Equal("INSERT INTO t (a, b) SELECT * FROM (VALUES (@r0_0_0, @r0_0_1), (@r0_1_0, @r0_1_1)) AS v WHERE true",
            Text(Insert(2), connection));
        Assert.Equal("DELETE FROM t WHERE a IN (@l0_0, @l0_1)", Text(Match(2), connection));
    }

    [Fact]
    public void Rows_of_different_widths_or_a_column_of_mixed_types_are_refused()
    {
        using var connection = new NpgsqlConnection();

        Assert.Throws<ArgumentException>(() => new SqlBuilder("SELECT * FROM").Rows([["a", 1], ["b"]]));
        Assert.Throws<ArgumentException>(() => new SqlBuilder("SELECT * FROM").Rows([]));
        Assert.Throws<ArgumentException>(() => new SqlBuilder("SELECT 1 WHERE 'a'").In([]));
        Assert.Throws<ArgumentException>(() =>
            new SqlBuilder("SELECT * FROM").Rows([["a", 1], ["b", "2"]]).Build(connection, null).Dispose());
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Rows_with_nulls_bytes_and_numbers_go_in_and_a_list_finds_them(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider);
        await using var connection = await db.Database.OpenAsync(Token);
        var bytes = db.Database.Dialect.Provider == DatabaseProvider.Postgres ? "BYTEA" : "BLOB";
        await WorkerDatabase.ExecuteAsync(connection, null,
            $"CREATE TABLE rows_test (id TEXT PRIMARY KEY, note TEXT NULL, size INTEGER NOT NULL, body {bytes} NULL)", Token);
        using var turn = await db.Database.WaitToWriteAsync(connection, Token);

        var inserted = await new SqlBuilder("INSERT INTO rows_test (id, note, size, body) SELECT * FROM")
            .Rows([["a", null, 1, new byte[] { 1, 2 }], ["b", "two", 2, null], ["c", null, 3, null]])
            .Append(" WHERE true ON CONFLICT DO NOTHING RETURNING id")
            .ReadStringsAsync(connection, null, Token);
        var again = await new SqlBuilder("INSERT INTO rows_test (id, note, size, body) SELECT * FROM")
            .Rows([["a", null, 9, new byte[] { 3 }]])
            .Append(" WHERE true ON CONFLICT DO NOTHING RETURNING id")
            .ReadStringsAsync(connection, null, Token);
        var found = await new SqlBuilder("SELECT id || ':' || COALESCE(note, '-') || ':' || size || ':' || COALESCE(length(body), 0) FROM rows_test WHERE id")
            .In(["a", "b", "x"]).Append(" ORDER BY id")
            .ReadStringsAsync(connection, null, Token);

        Assert.Equal(["a", "b", "c"], inserted.Order());
        Assert.Empty(again);
        Assert.Equal(["a:-:1:2", "b:two:2:0"], found.Order());
    }
}
