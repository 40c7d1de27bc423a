namespace Worker.Audit;

/// <summary>Append-only: records are added, never changed or removed.</summary>
public interface IAuditLog
{
    /// <summary>Appends the record unless one with its event id exists; true when this call added it.</summary>
    Task<bool> AppendAsync(AuditRecord record, CancellationToken cancellationToken);

    /// <summary>Every record about one job, oldest first.</summary>
    Task<IReadOnlyList<AuditRecord>> ForJobAsync(Guid jobId, CancellationToken cancellationToken);

    /// <summary>The latest <paramref name="limit"/> records of one event type (e.g. <c>model.activated</c>), oldest first.</summary>
    Task<IReadOnlyList<AuditRecord>> OfTypeAsync(string type, int limit, CancellationToken cancellationToken);
}
