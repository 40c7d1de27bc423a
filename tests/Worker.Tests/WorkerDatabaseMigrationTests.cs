using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Tests.Postgres;
using Worker.Jobs;
using Worker.Persistence;

namespace Worker.Tests;

public sealed class WorkerDatabaseMigrationTests
{
    private const int PreviousVersion = 3; // before outbox claims (claimed_until)

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_new_sqlite_database_and_its_wal_are_readable_by_their_owner_only_in_a_private_folder()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes");
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var folder = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"), "state");
        var dialect = new SqliteDialect(Path.Combine(folder, "jobs.db"));
        try
        {
            await new WorkerDatabase(dialect).MigrateAsync(Token);

            Assert.Equal(ownerOnly | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
            Assert.Equal(ownerOnly, File.GetUnixFileMode(dialect.FilePath));
            // The WAL lives while a connection is open; tests running in parallel clear the connection pools, so this
            // one holds its own connection (in a read) while it looks at the WAL.
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dialect.FilePath};Pooling=False");
            await connection.OpenAsync(Token);
            await using var read = connection.CreateCommand();
            read.CommandText = "SELECT COUNT(*) FROM sqlite_master";
            await read.ExecuteScalarAsync(Token);
            Assert.Equal(ownerOnly, File.GetUnixFileMode(dialect.FilePath + "-wal"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task An_existing_sqlite_database_readable_by_others_is_made_private()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes");
        var folder = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var dialect = new SqliteDialect(Path.Combine(folder, "jobs.db"));
        await File.WriteAllBytesAsync(dialect.FilePath, [], Token);
        File.SetUnixFileMode(dialect.FilePath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        try
        {
            await new WorkerDatabase(dialect).MigrateAsync(Token);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dialect.FilePath));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task A_database_of_the_previous_schema_version_is_upgraded_in_place_and_keeps_its_rows(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateAsync(provider, schemaVersion: PreviousVersion);
        var finished = await db.AddQueuedAsync(idempotencyKey: "k-1");
        await db.Store.TryFailAsync(finished.Id, new ProblemDetails { Title = "no" }, null, Token);
        var queued = await db.AddQueuedAsync();
        await using (var connection = await db.Database.OpenAsync(Token))
        using (await db.Database.WaitToWriteAsync(connection, Token))
        {
            // A registration as that version's store wrote it (the current store writes who activated it).
            await WorkerDatabase.ExecuteAsync(connection, null, """
                INSERT INTO model_versions (name, version, input_kind, labels, metrics, artifact_sha256, description, registered_at)
                VALUES ('sentiment', '1.0.0', 'text', '[]', '{}', 'aa', '', '2026-01-01T00:00:00.0000000Z');
                INSERT INTO active_model_versions (name, version, activated_at) VALUES ('sentiment', '1.0.0', '2026-01-01T00:00:00.0000000Z');
                """, Token);
        }

        await db.Database.MigrateAsync(Token);

        Assert.Equal(WorkerDatabase.LatestVersion, await db.Database.SchemaVersionAsync(Token));
        Assert.Equal("no", (await db.Store.FindAsync(finished.Id, Token))?.Error?.Title);
        Assert.Equal(JobStatus.Queued, (await db.Store.FindAsync(queued.Id, Token))?.Status);
        var active = await db.Registry.FindActiveAsync("sentiment", Token);
        Assert.Equal("1.0.0", active?.Version);
        Assert.Null(active?.ActivatedBy); // activated before anyone was recorded
        Assert.NotNull(active?.ActivatedAt);
        var again = await db.AddQueuedAsync(idempotencyKey: "k-1");
        Assert.Equal(finished.Id, again.Id);
        // The upgrade's new column works on the old rows: both jobs' messages can be claimed.
        var later = DateTimeOffset.UtcNow.AddMinutes(1);
        Assert.Equal(2, (await db.Outbox.ClaimAsync(later, later, 10, TimeSpan.FromMinutes(1), Token)).Count);
    }

    [Fact]
    public async Task A_sqlite_file_versioned_by_user_version_is_adopted_and_upgraded()
    {
        // Databases written before schema_version existed counted migrations in PRAGMA user_version only.
        await using var db = await TemporaryJobStore.CreateAsync(DatabaseProvider.Sqlite, schemaVersion: PreviousVersion);
        var job = await db.AddQueuedAsync();
        await using (var connection = await db.Database.OpenAsync(Token))
        {
            await WorkerDatabase.ExecuteAsync(connection, null, $"DROP TABLE schema_version; PRAGMA user_version = {PreviousVersion};", Token);
        }

        await db.Database.MigrateAsync(Token);

        Assert.Equal(WorkerDatabase.LatestVersion, await db.Database.SchemaVersionAsync(Token));
        Assert.Equal(job.Id, (await db.Store.FindAsync(job.Id, Token))?.Id);
    }

    [Theory]
    [MemberData(nameof(StoreProviders.All), MemberType = typeof(StoreProviders))]
    public async Task Replicas_migrating_at_once_apply_each_version_once(DatabaseProvider provider)
    {
        await using var db = await TemporaryJobStore.CreateEmptyAsync(provider);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => db.Database.MigrateAsync(Token)));

        Assert.Equal(WorkerDatabase.LatestVersion, await db.Database.SchemaVersionAsync(Token));
        await using var connection = await db.Database.OpenAsync(Token);
        Assert.Equal(WorkerDatabase.LatestVersion, Convert.ToInt32(
            await WorkerDatabase.ScalarAsync(connection, null, "SELECT COUNT(*) FROM schema_version", Token),
            System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Replicas_starting_on_a_missing_postgres_database_create_it_once_and_migrate_it()
    {
        var server = await PostgresTestServer.SharedAsync();
        // Upper case and a dash: the name is created as the quoted identifier the connection string names.
        var name = $"Worker-{Guid.NewGuid():N}"[..20];
        var sources = Enumerable.Range(0, 4)
            .Select(_ => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(server.ConnectionString(name)).ConnectionString))
            .ToList();
        try
        {
            var created = await Task.WhenAll(sources.Select(source => new WorkerDatabase(new PostgresDialect(source)).MigrateAsync(Token)));

            Assert.Single(created, createdIt => createdIt);
            Assert.Equal(1, await DatabasesNamedAsync(server, name));
            Assert.Equal(WorkerDatabase.LatestVersion, await new WorkerDatabase(new PostgresDialect(sources[0])).SchemaVersionAsync(Token));
            Assert.False(await new WorkerDatabase(new PostgresDialect(sources[1])).MigrateAsync(Token));
        }
        finally
        {
            await DropAsync(server, name, sources);
        }
    }

    [Fact]
    public async Task A_missing_postgres_database_is_created_with_the_roles_password_and_not_without_it()
    {
        var server = await PostgresTestServer.SharedAsync();
        var (role, name) = ($"worker_{Guid.NewGuid():N}"[..20], $"worker_{Guid.NewGuid():N}"[..20]);
        await server.ExecuteAsync($"CREATE ROLE {role} LOGIN CREATEDB PASSWORD 's3cret'");
        await server.RestrictAsync(role, "scram-sha-256");
        NpgsqlDataSource Source(string password) => NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(server.ConnectionString(name)) { Username = role, Password = password }.ConnectionString);
        List<NpgsqlDataSource> sources = [Source("wrong"), Source("s3cret")];
        try
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => new WorkerDatabase(new PostgresDialect(sources[0])).MigrateAsync(Token));
            Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
            Assert.Equal(0, await DatabasesNamedAsync(server, name));

            Assert.True(await new WorkerDatabase(new PostgresDialect(sources[1])).MigrateAsync(Token));
            Assert.Equal(1, await DatabasesNamedAsync(server, name));
        }
        finally
        {
            await DropAsync(server, name, sources);
        }
    }

    [Theory]
    [InlineData(false, "may not create it", PostgresErrorCodes.InsufficientPrivilege)] // a role without CREATEDB
    // A role that may create databases, barred from the postgres database (pg_hba.conf's reject).
    [InlineData(true, "could not be created", PostgresErrorCodes.InvalidAuthorizationSpecification)]
    public async Task A_role_that_cannot_create_the_missing_database_is_told_what_to_create(bool createDb, string why, string cause)
    {
        var server = await PostgresTestServer.SharedAsync();
        var (role, name) = ($"worker_{Guid.NewGuid():N}"[..20], $"worker_{Guid.NewGuid():N}"[..20]);
        await server.ExecuteAsync($"CREATE ROLE {role} LOGIN{(createDb ? " CREATEDB" : "")}");
        if (createDb)
        {
            await server.RestrictAsync(role, "reject", database: PostgresDialect.MaintenanceDatabase);
        }

        List<NpgsqlDataSource> sources =
            [NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(server.ConnectionString(name)) { Username = role }.ConnectionString)];
        try
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(
                () => new WorkerDatabase(new PostgresDialect(sources[0])).MigrateAsync(Token));

            Assert.Contains(why, refused.Message, StringComparison.Ordinal);
            Assert.Contains($"CREATE DATABASE \"{name}\" OWNER \"{role}\"", refused.Message, StringComparison.Ordinal);
            Assert.Equal(cause, Assert.IsType<PostgresException>(refused.InnerException).SqlState);
            Assert.Equal(0, await DatabasesNamedAsync(server, name));
        }
        finally
        {
            await DropAsync(server, name, sources);
        }
    }

    private static async Task<int> DatabasesNamedAsync(PostgresTestServer server, string name)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync(Token);
        await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM pg_database WHERE datname = @name", connection);
        count.Parameters.AddWithValue("name", name);
        return Convert.ToInt32(await count.ExecuteScalarAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task DropAsync(PostgresTestServer server, string name, IEnumerable<NpgsqlDataSource> sources)
    {
        foreach (var source in sources)
        {
            await source.DisposeAsync();
        }

        await server.ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    }
}
