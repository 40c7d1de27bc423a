using System.Data.Common;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Worker.Events;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Persistence;
using Worker.Security;

namespace Worker.Registry;

/// <summary>
/// The registry in the Worker's database (<see cref="WorkerDatabase"/>, SQLite or PostgreSQL). Replicas registering
/// or activating at once see each other's result: inserts that lose a race do nothing (<c>ON CONFLICT DO NOTHING</c>),
/// and an activation holds the model's active row until it commits.
/// </summary>
internal sealed class ModelRegistryStore(
    WorkerDatabase database, IOutbox outbox, IOptions<MessagingOptions> messaging, TimeProvider clock) : IModelRegistryStore
{
    private const string Columns =
        "v.name, v.version, v.input_kind, v.labels, v.metrics, v.artifact_sha256, v.description, v.created_at, " +
        "v.registered_at, a.version IS NOT NULL, a.activated_at, a.activated_by_service, a.activated_by_user";

    private const string FromVersions =
        "FROM model_versions v LEFT JOIN active_model_versions a ON a.name = v.name AND a.version = v.version";

    public async Task<Registration> RegisterAsync(NewModelVersion version, Caller by, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var hash = version.ArtifactSha256.ToLowerInvariant();
        var now = clock.GetUtcNow();
        var inserted = await WorkerDatabase.ExecuteAsync(connection, transaction, """
            INSERT INTO model_versions (name, version, input_kind, labels, metrics, artifact_sha256, description,
                                        created_at, registered_at)
            VALUES (@name, @version, @input_kind, @labels, @metrics, @sha256, @description, @created_at, @registered_at)
            ON CONFLICT DO NOTHING
            """, cancellationToken,
            ("@name", version.Name), ("@version", version.Version), ("@input_kind", version.InputKind),
            ("@labels", JsonSerializer.Serialize(version.Labels)), ("@metrics", JsonSerializer.Serialize(version.Metrics)),
            ("@sha256", hash), ("@description", version.Description),
            ("@created_at", version.CreatedAt is { } created ? WorkerDatabase.Timestamp(created) : null),
            ("@registered_at", WorkerDatabase.Timestamp(now)));
        if (inserted == 0)
        {
            var existing = await FindAsync(connection, transaction, version.Name, version.Version, cancellationToken)
                           ?? throw new InvalidOperationException($"{version.Name} {version.Version} vanished while registering.");
            return new Registration(
                existing.ArtifactSha256 == hash ? RegistrationStatus.AlreadyRegistered : RegistrationStatus.Conflict, existing);
        }

        // A model's first version is the one it serves; that is an activation like any other, so it is announced.
        // The insert does nothing when the model has an active version already, also one registered concurrently.
        var first = await WorkerDatabase.ExecuteAsync(connection, transaction, """
            INSERT INTO active_model_versions (name, version, activated_at, activated_by_service, activated_by_user)
            VALUES (@name, @version, @now, @service, @user)
            ON CONFLICT DO NOTHING
            """, cancellationToken, ("@name", version.Name), ("@version", version.Version),
            ("@now", WorkerDatabase.Timestamp(now)), ("@service", by.Service), ("@user", by.User)) == 1;
        if (first)
        {
            await AnnounceAsync(connection, transaction, version.Name, version.Version, by, now, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        if (first)
        {
            outbox.Notify();
        }

        var stamped = WorkerDatabase.ParseTimestamp(WorkerDatabase.Timestamp(now));
        var stored = new RegisteredVersion(version.Name, version.Version, version.InputKind, version.Labels, version.Metrics,
            hash, version.Description, version.CreatedAt, stamped, first, first ? stamped : null, first ? by : null);
        return new Registration(RegistrationStatus.Created, stored);
    }

    public async Task<ModelVersionList?> ListAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        // Registration order: a column that grows with each insert (registered_at alone may tie).
        var versions = await ReadAsync(connection, null,
            $"SELECT {Columns} {FromVersions} WHERE v.name = @name ORDER BY {database.Dialect.InsertionOrder}",
            cancellationToken, ("@name", name));
        return versions.Count == 0
            ? null
            : new ModelVersionList(name, versions.FirstOrDefault(v => v.Active)?.Version, versions);
    }

    public async Task<RegisteredVersion?> FindActiveAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var active = await ReadAsync(connection, null, $"""
            SELECT {Columns} FROM active_model_versions a
            JOIN model_versions v ON v.name = a.name AND v.version = a.version WHERE a.name = @name
            """, cancellationToken, ("@name", name));
        return active.SingleOrDefault();
    }

    public async Task<Activation> ActivateAsync(string name, string version, Caller by, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        // Concurrent activations of one model take turns here, so the last announcement names the version that stays active.
        await WorkerDatabase.ScalarAsync(connection, transaction,
            $"SELECT version FROM active_model_versions WHERE name = @name {database.Dialect.ForUpdate}",
            cancellationToken, ("@name", name));
        if (await FindAsync(connection, transaction, name, version, cancellationToken) is not { } found)
        {
            var known = await WorkerDatabase.ScalarAsync(connection, transaction,
                "SELECT 1 FROM model_versions WHERE name = @name LIMIT 1", cancellationToken, ("@name", name)) is not null;
            return new Activation(known ? ActivationStatus.VersionNotFound : ActivationStatus.ModelNotFound, null);
        }

        if (found.Active)
        {
            return new Activation(ActivationStatus.AlreadyActive, found);
        }

        var now = clock.GetUtcNow();
        await WorkerDatabase.ExecuteAsync(connection, transaction, """
            INSERT INTO active_model_versions (name, version, activated_at, activated_by_service, activated_by_user)
            VALUES (@name, @version, @now, @service, @user)
            ON CONFLICT (name) DO UPDATE SET version = excluded.version, activated_at = excluded.activated_at,
                activated_by_service = excluded.activated_by_service, activated_by_user = excluded.activated_by_user
            """, cancellationToken, ("@name", name), ("@version", version), ("@now", WorkerDatabase.Timestamp(now)),
            ("@service", by.Service), ("@user", by.User));
        await AnnounceAsync(connection, transaction, name, version, by, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        outbox.Notify();
        return new Activation(ActivationStatus.Activated, found with
        {
            Active = true, ActivatedAt = WorkerDatabase.ParseTimestamp(WorkerDatabase.Timestamp(now)), ActivatedBy = by,
        });
    }

    /// <summary>Writes <c>model.activated</c> (with who activated it, for the audit log) to the outbox in the caller's transaction.</summary>
    private Task AnnounceAsync(DbConnection connection, DbTransaction transaction, string name, string version, Caller by,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var announcement = DomainEvent.Announce(DomainEvent.ModelActivated, new ModelActivatedData(name, version, by), jobId: null,
            messaging.Value, now);
        return OutboxStore.AddAsync(connection, transaction, announcement, cancellationToken);
    }

    private static async Task<RegisteredVersion?> FindAsync(DbConnection connection, DbTransaction? transaction,
        string name, string version, CancellationToken cancellationToken) =>
        (await ReadAsync(connection, transaction, $"SELECT {Columns} {FromVersions} WHERE v.name = @name AND v.version = @version",
            cancellationToken, ("@name", name), ("@version", version))).SingleOrDefault();

    private static async Task<List<RegisteredVersion>> ReadAsync(DbConnection connection, DbTransaction? transaction,
        string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = WorkerDatabase.Command(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var versions = new List<RegisteredVersion>();
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(new RegisteredVersion(
                reader.GetString(0),
                reader.GetString(1),
                reader.GetString(2),
                JsonSerializer.Deserialize<List<string>>(reader.GetString(3)) ?? [],
                JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(4)) ?? [],
                reader.GetString(5),
                reader.GetString(6),
                reader.IsDBNull(7) ? null : WorkerDatabase.ParseTimestamp(reader.GetString(7)),
                WorkerDatabase.ParseTimestamp(reader.GetString(8)),
                reader.GetBoolean(9),
                reader.IsDBNull(10) ? null : WorkerDatabase.ParseTimestamp(reader.GetString(10)),
                reader.IsDBNull(11) ? null : new Caller(reader.GetString(11), reader.IsDBNull(12) ? null : reader.GetString(12))));
        }

        return versions;
    }
}
