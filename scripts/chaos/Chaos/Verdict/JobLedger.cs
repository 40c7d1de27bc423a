namespace Chaos.Verdict;

/// <summary>
/// What became of one accepted job, read back from the system (the gateway's jobs API and the Worker's audit log),
/// never from the driver's memory: its status (null when the system does not know the id) and how many
/// <c>job.completed</c> events the audit log holds for it.
/// </summary>
public sealed record JobOutcome(Guid Id, string? Status, int Completions);

/// <summary>The jobs of one scenario, counted.</summary>
public sealed record JobTally(int Accepted, int Completed, int Failed, int Unfinished, int Lost, int Duplicated)
{
    public static readonly JobTally None = new(0, 0, 0, 0, 0, 0);

    /// <summary>Every accepted job completed exactly once: none lost, failed, left unfinished or done twice.</summary>
    public bool Holds => Completed == Accepted && Lost == 0 && Duplicated == 0;

    public static JobTally operator +(JobTally a, JobTally b) => new(a.Accepted + b.Accepted, a.Completed + b.Completed,
        a.Failed + b.Failed, a.Unfinished + b.Unfinished, a.Lost + b.Lost, a.Duplicated + b.Duplicated);
}

public static class JobLedger
{
    /// <summary>
    /// Counts the jobs the gateway accepted (202 with an id) against what the system holds once the run drained:
    /// completed = succeeded and announced at most once; failed; unfinished = still queued or running; lost = an
    /// accepted id the system does not know; duplicated = a job announced completed more than once, plus every job of
    /// the driver's owners that no accepted submission (nor one left without an answer) accounts for.
    /// </summary>
    /// <param name="accepted">The ids the gateway answered 202 for.</param>
    /// <param name="observed">What the system says of each of them.</param>
    /// <param name="jobsOfOwners">Every job the system holds for the owners the driver submitted as.</param>
    /// <param name="unanswered">Submissions that got no answer: each may have created a job the driver never heard of.</param>
    public static JobTally Count(IReadOnlyCollection<Guid> accepted, IReadOnlyDictionary<Guid, JobOutcome> observed,
        IReadOnlyCollection<Guid> jobsOfOwners, int unanswered)
    {
        int completed = 0, failed = 0, unfinished = 0, lost = 0, announcedTwice = 0;
        foreach (var id in accepted.Distinct())
        {
            if (!observed.TryGetValue(id, out var outcome) || outcome.Status is null)
            {
                lost++;
                continue;
            }

            if (outcome.Completions > 1)
            {
                announcedTwice++;
            }

            switch (outcome.Status)
            {
                case "succeeded" when outcome.Completions <= 1:
                    completed++;
                    break;
                case "succeeded":
                    break; // done twice: counted as duplicated, not as completed
                case "failed":
                    failed++;
                    break;
                default:
                    unfinished++;
                    break;
            }
        }

        var acceptedSet = accepted.ToHashSet();
        var unaccounted = jobsOfOwners.Distinct().Count(id => !acceptedSet.Contains(id));
        var extra = Math.Max(0, unaccounted - unanswered);
        return new JobTally(acceptedSet.Count, completed, failed, unfinished, lost, announcedTwice + extra);
    }
}
