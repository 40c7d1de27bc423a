using System.Security.Claims;
using Gateway.Security;
using Gateway.Upstream.Worker;

namespace Gateway.Application;

/// <summary>
/// What an operator does to the job pipeline (scope <c>admin</c>): the dead-letter queue and pausing consumption.
/// The Worker audits each change under the token's subject; the dashboard's commands call the same Worker operations.
/// </summary>
public sealed class OperationsService(IAdminClient admin)
{
    public Task<Outcome<DeadJobList>> ListDeadJobsAsync(int? limit, CancellationToken cancellationToken) =>
        admin.ListDeadJobsAsync(limit, cancellationToken);

    public Task<Outcome<RequeueReport>> RequeueAsync(Guid? jobId, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        admin.RequeueAsync(jobId, ActorOf(user), cancellationToken);

    public Task<Outcome<ConsumptionState>> GetConsumptionAsync(CancellationToken cancellationToken) =>
        admin.GetConsumptionAsync(cancellationToken);

    public Task<Outcome<ConsumptionState>> SetConsumptionAsync(bool paused, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        admin.SetConsumptionAsync(paused, ActorOf(user), cancellationToken);

    // The caller (issuer and subject), as jobs are owned; the edge lets only authenticated callers with the admin scope in.
    private static string ActorOf(ClaimsPrincipal user) => Scopes.CallerOf(user) ?? Scopes.SubjectOf(user) ?? "unknown caller";
}
