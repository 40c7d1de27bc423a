using System.Security.Claims;
using Gateway.Security;
using Gateway.Upstream.Worker;

namespace Gateway.Application;

/// <summary>
/// What an operator does to the job pipeline (scope <c>admin</c>): the dead-letter queue, pausing consumption, and
/// reading the audit log.
/// Every call acts for the admin (issuer and subject, as jobs are owned), whom the Worker audits each change under;
/// the dashboard's commands call the same Worker operations as the caller <c>dashboard</c>.
/// </summary>
public sealed class OperationsService(IAdminClient admin)
{
    public Task<Outcome<DeadJobList>> ListDeadJobsAsync(int? limit, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        admin.ListDeadJobsAsync(limit, CallerOf(user), cancellationToken);

    public Task<Outcome<RequeueReport>> RequeueAsync(Guid? jobId, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        admin.RequeueAsync(jobId, CallerOf(user), cancellationToken);

    public Task<Outcome<ConsumptionState>> GetConsumptionAsync(ClaimsPrincipal user, CancellationToken cancellationToken) =>
        admin.GetConsumptionAsync(CallerOf(user), cancellationToken);

    public Task<Outcome<ConsumptionState>> SetConsumptionAsync(bool paused, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        admin.SetConsumptionAsync(paused, CallerOf(user), cancellationToken);

    public Task<Outcome<IReadOnlyList<AuditRecord>>> GetJobAuditTrailAsync(Guid jobId, ClaimsPrincipal user,
        CancellationToken cancellationToken) =>
        admin.GetJobAuditTrailAsync(jobId, CallerOf(user), cancellationToken);

    public Task<Outcome<IReadOnlyList<AuditRecord>>> ListAuditEventsAsync(string? type, int? limit, ClaimsPrincipal user,
        CancellationToken cancellationToken) =>
        admin.ListAuditEventsAsync(type, limit, CallerOf(user), cancellationToken);

    // The edge lets only authenticated callers with the admin scope in, so there is an issuer and a subject.
    private static string CallerOf(ClaimsPrincipal user) =>
        Scopes.CallerOf(user) ?? throw new InvalidOperationException("An authenticated caller has no issuer and subject.");
}
