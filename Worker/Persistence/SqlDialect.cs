using System.Data.Common;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Worker.Persistence;

/// <summary>
/// Everything that differs between SQLite and PostgreSQL, in one place: how a connection opens, how a write
/// transaction begins, row locking, the migration lock and a few column types. The stores' SQL is otherwise shared:
/// <c>@name</c> parameters, <c>ON CONFLICT</c>, <c>LIMIT</c> and <c>RETURNING</c> mean the same in both.
/// </summary>
public abstract class SqlDialect
{
    public abstract DatabaseProvider Provider { get; }

    /// <summary>Appended to a SELECT that claims rows: other transactions skip what this one holds.</summary>
    public abstract string SkipLocked { get; }

    /// <summary>Appended to a SELECT that must hold its rows until the transaction ends.</summary>
    public abstract string ForUpdate { get; }

    /// <summary>The column of <c>model_versions</c> (alias <c>v</c>) that grows with each insert.</summary>
    public abstract string InsertionOrder { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Creates the database when it does not exist yet, before the first connection to it (the migration's); true if
    /// this call created it. Replicas starting together may all call it: one creates, the others find it.
    /// </summary>
    public abstract Task<bool> CreateIfMissingAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A transaction that writes, begun in this process's turn to write (<see cref="WaitToWriteAsync"/>), which it holds
    /// until it ends. SQLite takes its (single) write lock at once, so the reads inside it are current.
    /// </summary>
    public async ValueTask<WriteTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var turn = await WaitToWriteAsync(connection, cancellationToken);
        try
        {
            return new WriteTransaction(await BeginTransactionAsync(connection, cancellationToken), turn);
        }
        catch
        {
            turn.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits for this process's turn to write, for a statement that writes outside a transaction on
    /// <paramref name="connection"/> (dispose the turn once it has run) and inside <see cref="BeginWriteAsync"/>. Only
    /// SQLite waits: it has one writer at a time anyway. On SQLite, the turn's end also reads once on the connection
    /// (<see cref="SqliteDialect.MarkTheWalsEnd"/>).
    /// </summary>
    public virtual ValueTask<WriteTurn> WaitToWriteAsync(DbConnection? connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult(WriteTurn.Unrestricted);

    /// <summary>The turn alone, for no connection in particular (tests of the turns).</summary>
    public ValueTask<WriteTurn> WaitToWriteAsync(CancellationToken cancellationToken) => WaitToWriteAsync(null, cancellationToken);

    protected abstract ValueTask<DbTransaction> BeginTransactionAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Run first inside the migration transaction: one migrating process at a time, however many start.</summary>
    public abstract string? MigrationLock { get; }

    /// <summary>
    /// Run first inside a write transaction that counts an owner's rows before adding one (parameter <c>@owner</c>):
    /// one such transaction per owner at a time, so two submissions cannot both see room under the quota.
    /// </summary>
    public abstract string? OwnerLock { get; }

    /// <summary>The schema version a database had before the <c>schema_version</c> table existed (SQLite's user_version).</summary>
    public abstract string? LegacyVersionQuery { get; }

    /// <summary>Replaces the type tokens of a migration: <c>{bytes}</c>, <c>{sortable_text}</c>, <c>{insertion_order}</c>.</summary>
    public string Expand(string migration) => migration
        .Replace("{bytes}", Bytes, StringComparison.Ordinal)
        .Replace("{sortable_text}", SortableText, StringComparison.Ordinal)
        .Replace("{insertion_order}", InsertionOrderColumn, StringComparison.Ordinal);

    protected abstract string Bytes { get; }

    /// <summary>Text compared with &lt; and ORDER BY (timestamps, ids): byte order, whatever the database's locale.</summary>
    protected abstract string SortableText { get; }

    /// <summary>A column definition (with its trailing comma) that numbers inserts, or nothing where the row id does.</summary>
    protected abstract string InsertionOrderColumn { get; }
}

/// <summary>One SQLite file in WAL mode (synchronous NORMAL); every replica on the machine opens it.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001",
    Justification = "Its SemaphoreSlim holds nothing to release (no wait handle is asked of it), and disposing it while a writer still held a turn would fail that writer's release.")]
public sealed partial class SqliteDialect(string path, int walAutoCheckpoint = SqliteDialect.DefaultWalAutoCheckpoint) : SqlDialect
{
    /// <summary>
    /// A checkpoint once the WAL holds 4,000 pages (about 16 MB; SQLite's own default is 1,000). Under the jobs
    /// benchmark a replica checkpointed about twice a second at 1,000, each time syncing the disk in a writer's turn;
    /// at 4,000 a quarter as often, with half as many syncs in all and more jobs a second in three runs of three
    /// (docs/performance.md, "The machine's own stalls, in every run").
    /// </summary>
    public const int DefaultWalAutoCheckpoint = 4000;

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = Path.GetFullPath(path),
        Pooling = true,
        // Microsoft.Data.Sqlite's own retries on a busy database, should one get past WaitForTheWriteLock: as long.
        DefaultTimeout = (int)WriteLockTimeout.TotalSeconds,
    }.ToString();

    public string FilePath { get; } = Path.GetFullPath(path);

    /// <summary>
    /// Creates the database file readable and writable by this user only (0600, in a folder it creates 0700) before
    /// SQLite opens it: SQLite gives its -wal and -shm files the database file's mode, and the default (0644, by
    /// umask) would let every local user read the jobs, their inputs and results.
    /// </summary>
    public override Task<bool> CreateIfMissingAsync(CancellationToken cancellationToken) => Task.FromResult(CreatePrivateFile());

    private bool CreatePrivateFile()
    {
        var folder = Path.GetDirectoryName(FilePath)!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
            return !File.Exists(FilePath);
        }

        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        const UnixFileMode privateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using var created = new FileStream(FilePath, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = privateFile,
            });
            return true;
        }
        catch (IOException) when (File.Exists(FilePath))
        {
            // It exists (another replica created it, or an earlier run): tighten files from before this rule.
            foreach (var file in new[] { FilePath, FilePath + "-wal", FilePath + "-shm" }.Where(File.Exists))
            {
                if ((File.GetUnixFileMode(file) & ~privateFile) != 0)
                {
                    File.SetUnixFileMode(file, privateFile);
                }
            }

            return false;
        }
    }

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    // SQLite has one writer at a time: a claim or a write transaction already excludes every other.
    public override string SkipLocked => string.Empty;

    public override string ForUpdate => string.Empty;

    public override string InsertionOrder => "v.rowid";

    public override string? MigrationLock => null; // BEGIN IMMEDIATE is the lock

    public override string? OwnerLock => null; // BEGIN IMMEDIATE: one writer at a time already

    public override string? LegacyVersionQuery => "PRAGMA user_version";

    protected override string Bytes => "BLOB";

    protected override string SortableText => "TEXT";

    protected override string InsertionOrderColumn => string.Empty;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // Once per SQLite connection (a pooled one keeps its settings from one open to the next; one open at a time
        // holds it, so no two callers prepare the same one). Recorded only once both settings are in place.
        var handle = connection.Handle!;
        if (!Prepared.TryGetValue(handle, out _))
        {
            // In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the process being killed
            // (it is in the WAL file); only a power loss or OS crash can take the last commits with it.
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = $"PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = {walAutoCheckpoint};";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            if (NativeMethods.sqlite3_busy_handler(handle.DangerousGetHandle(), NativeMethods.BusyHandler, IntPtr.Zero) != 0)
            {
                throw new InvalidOperationException("SQLite refused the busy handler.");
            }

            Prepared.AddOrUpdate(handle, Prepared);
        }

        RememberOpened(connection);
        return connection;
    }

    // The SQLite connections prepared so far (a pooled connection is opened many times).
    private static readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> Prepared = new();

    // Debug builds: the dialect that opened each connection (CheckWriteTurn).
    private static readonly ConditionalWeakTable<SqliteConnection, SqliteDialect> Opened = new();

    [Conditional("DEBUG")]
    private void RememberOpened(SqliteConnection connection) => Opened.AddOrUpdate(connection, this);

    /// <summary>
    /// Debug builds (every test, the end-to-end ones included) fail a statement that writes on a connection a dialect
    /// opened while none of that process's writers holds a turn (<see cref="WaitToWriteAsync"/>, or
    /// <see cref="SqlDialect.BeginWriteAsync"/>): a write that skips its turn works, and would only show when the disk
    /// stalls, as threads held in SQLite. (A turn another writer holds at that moment hides a missing one; a test's
    /// lone writer has none to hide behind.)
    /// </summary>
    [Conditional("DEBUG")]
    internal static void CheckWriteTurn(DbConnection connection, string sql)
    {
        if (connection is SqliteConnection sqlite && Opened.TryGetValue(sqlite, out var dialect)
            && dialect._writer.CurrentCount > 0 && Writes(sql))
        {
            throw new InvalidOperationException(
                $"A statement that writes ran without this process's turn to write (SqlDialect.WaitToWriteAsync or BeginWriteAsync): {sql.Trim()}");
        }
    }

    /// <summary>Whether a statement changes rows (it names INSERT, UPDATE or DELETE as a word).</summary>
    internal static bool Writes(string sql) => WriteKeyword().IsMatch(sql);

    [GeneratedRegex(@"\b(INSERT|UPDATE|DELETE)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex WriteKeyword();

    /// <summary>The longest a statement waits for the write lock before it fails busy.</summary>
    internal static readonly TimeSpan WriteLockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// While another connection holds the write lock (another replica's, or another process's that opens the file;
    /// this process's writers take turns before SQLite, <see cref="WaitToWriteAsync"/>, so they do not wait here for
    /// each other): try again every millisecond, then every 5 ms after the first 50, for at most
    /// <see cref="WriteLockTimeout"/>. SQLite's own <c>busy_timeout</c> sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50
    /// and then 100 ms between tries, however soon the lock is free: with two replicas and a handful of
    /// group-committing writers each, a write that found the lock held often slept tens of milliseconds past its
    /// release (seen with strace before the turns: hundreds of 25 to 100 ms sleeps a second under load), which
    /// lengthened the submissions' tail.
    /// </summary>
    internal static int WaitForTheWriteLock(IntPtr state, int tries)
    {
        var waited = tries < 50 ? tries : 50 + (tries - 50) * 5;
        if (waited >= WriteLockTimeout.TotalMilliseconds)
        {
            return 0; // give up: the statement fails with SQLITE_BUSY
        }

        Thread.Sleep(tries < 50 ? 1 : 5);
        return 1;
    }

    /// <summary>
    /// One writer of this process at a time, the others waiting without a thread. SQLite lets one connection write at a
    /// time, and a connection waiting for it (in <see cref="WaitForTheWriteLock"/>) or writing (SQLite has no
    /// asynchronous I/O) holds its thread: when the disk stalled, every writer of the replica held one (admissions, job
    /// outcomes, the outbox relay, the consumers, the audit log), and requests that need no disk waited for threads
    /// (docs/reliability-history.md, "The disk stalled on purpose"). Waiting here, at most one connection of the process waits
    /// in SQLite, for another replica's writer. A turn is handed on in the order it was asked for.
    /// </summary>
    private readonly SemaphoreSlim _writer = new(1, 1);

    public override async ValueTask<WriteTurn> WaitToWriteAsync(DbConnection? connection, CancellationToken cancellationToken)
    {
        if (!await _writer.WaitAsync(WriteLockTimeout, cancellationToken))
        {
            throw new SqliteException(
                $"database is locked: this process's other writers held it for {WriteLockTimeout.TotalSeconds:0} s", 5); // SQLITE_BUSY
        }

        return new WriteTurn(_writer, connection as SqliteConnection);
    }

    /// <summary>
    /// Run as a turn to write ends, on the connection that wrote: one read, which leaves a read mark at the WAL's new
    /// end, so that the reads after it write nothing. In WAL mode a read transaction that starts after a commit records
    /// the WAL's end in a read mark in the <c>-shm</c> file, a store into a mapping of that file, on the database's file
    /// system; while that file system is frozen (or its disk stalls with the page under write-back) the store waits in
    /// the page fault, and the read with it: a read of jobs waited out a chaos run's 4 s disk stall so
    /// (docs/reliability.md, "A read through a frozen disk, on SQLite"; scripts/chaos/sqlite_read_in_freeze.py). Read
    /// here, right after the commit, the mark is in place before any other read needs it; if the disk stalls between
    /// the two, this read waits, in the writer's turn, as the writer would have. Best effort: a connection that cannot
    /// read now leaves the next reader to set the mark, as before.
    /// </summary>
    internal static void MarkTheWalsEnd(SqliteConnection? connection)
    {
        if (connection is not { State: System.Data.ConnectionState.Open })
        {
            return;
        }

        try
        {
            using var read = connection.CreateCommand();
            read.CommandText = "PRAGMA schema_version";
            read.ExecuteScalar();
        }
        catch (Exception exception) when (exception is SqliteException or InvalidOperationException)
        {
            // A transaction still open on it, or a broken connection: nothing is lost but the mark.
        }
    }

    protected override ValueTask<DbTransaction> BeginTransactionAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));
}

/// <summary>What SQLitePCLRaw does not bind: the busy handler (<see cref="SqliteDialect.WaitForTheWriteLock"/>).</summary>
internal static class NativeMethods
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int Busy(IntPtr state, int tries);

    // Kept here for the process's lifetime: SQLite calls it through a pointer the marshaller made for it.
    internal static readonly Busy BusyHandler = SqliteDialect.WaitForTheWriteLock;

    [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
    internal static extern int sqlite3_busy_handler(IntPtr db, Busy handler, IntPtr state);
}

/// <summary>PostgreSQL through a pooled <see cref="NpgsqlDataSource"/> (Aspire.Npgsql: health check, telemetry).</summary>
public sealed class PostgresDialect(NpgsqlDataSource dataSource) : SqlDialect
{
    // pg_advisory_xact_lock key for schema migrations ("MLGW" in ASCII); released when the transaction ends.
    private const long MigrationLockKey = 0x4D4C_4757;

    // The first key of per-owner advisory locks ("MLGX").
    private const int OwnerLockSpace = 0x4D4C_4758;

    public override DatabaseProvider Provider => DatabaseProvider.Postgres;

    public override string SkipLocked => "FOR UPDATE SKIP LOCKED";

    public override string ForUpdate => "FOR UPDATE";

    public override string InsertionOrder => "v.insertion_order";

    public override string? MigrationLock => $"SELECT pg_advisory_xact_lock({MigrationLockKey})";

    // The two-key form keeps owner locks apart from the migration lock: (space, hash of the owner).
    public override string? OwnerLock => $"SELECT pg_advisory_xact_lock({OwnerLockSpace}, hashtext(@owner))";

    public override string? LegacyVersionQuery => null;

    protected override string Bytes => "BYTEA";

    protected override string SortableText => "TEXT COLLATE \"C\"";

    protected override string InsertionOrderColumn => "insertion_order BIGINT GENERATED ALWAYS AS IDENTITY,";

    /// <summary>
    /// The database a connection goes to for <c>CREATE DATABASE</c>: every server is made with it, and by default
    /// every role may connect to it.
    /// </summary>
    public const string MaintenanceDatabase = "postgres";

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// Creates the connection string's database when the server answers that it does not exist (3D000), as Aspire
    /// does for a server it runs itself and a deployment from the manifest does not (microsoft/aspire#14695):
    /// connected to <see cref="MaintenanceDatabase"/> with the same role and password, the new database the role's. A
    /// replica that loses the race finds the database there (42P04, or 23505 when two create at once). A role that
    /// may not create databases, or may not reach <see cref="MaintenanceDatabase"/>, gets an error that says what to
    /// create.
    /// </summary>
    public override async Task<bool> CreateIfMissingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var probe = await dataSource.OpenConnectionAsync(cancellationToken);
            return false;
        }
        catch (PostgresException missing) when (missing.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            await using var template = dataSource.CreateConnection();
            var target = new NpgsqlConnectionStringBuilder(template.ConnectionString);
            // Without a Database PostgreSQL takes the role's name; without a role either, the system user's: not ours
            // to guess.
            if ((target.Database ?? target.Username) is not { } name)
            {
                throw;
            }

            return await CreateAsync(template, name, target.Username, cancellationToken);
        }
    }

    private static async Task<bool> CreateAsync(NpgsqlConnection template, string name, string? role, CancellationToken cancellationToken)
    {
        var owner = role is null ? string.Empty : $" OWNER {Quoted(role)}";
        var statement = $"CREATE DATABASE {Quoted(name)}{owner}";
        var maintenanceString = new NpgsqlConnectionStringBuilder(template.ConnectionString)
        {
            Database = MaintenanceDatabase,
            Pooling = false,
            Multiplexing = false,
        }.ConnectionString;
        // CloneWith keeps what the data source does not show in its connection string: the password.
        await using var maintenance = await template.CloneWithAsync(maintenanceString, cancellationToken);
        try
        {
            await maintenance.OpenAsync(cancellationToken);
        }
        catch (PostgresException unreachable)
        {
            // The server refused the role there (pg_hba.conf, CONNECT revoked); a timeout or a lost connection is
            // raised as it is.
            throw new InvalidOperationException(
                $"The database {Quoted(name)} does not exist, and it could not be created: connecting to the server's " +
                $"{Quoted(MaintenanceDatabase)} database failed ({unreachable.Message}). Create it on the server ({statement}).",
                unreachable);
        }

        // CREATE DATABASE takes no parameters: the name goes in as a quoted identifier. The role creating it owns it, and
        // so its schema public (PostgreSQL 15 on), where the migration creates the tables.
        await using var create = new NpgsqlCommand($"CREATE DATABASE {Quoted(name)}", maintenance);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }
        catch (PostgresException raced) when (raced.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Another replica's, created meanwhile (two at once may meet at the catalog's unique index).
            return false;
        }
        catch (PostgresException refused) when (refused.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new InvalidOperationException(
                $"The database {Quoted(name)} does not exist, and the role {Quoted(role ?? "")} may not create it: " +
                $"create it on the server ({statement}) or give the role CREATEDB.", refused);
        }
    }

    private static string Quoted(string identifier) => $"\"{identifier.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    protected override ValueTask<DbTransaction> BeginTransactionAsync(DbConnection connection, CancellationToken cancellationToken) =>
        connection.BeginTransactionAsync(cancellationToken);
}
