namespace Chaos.Tests;

public sealed class JobLedgerTests
{
    private static readonly Guid A = Guid.NewGuid(), B = Guid.NewGuid(), C = Guid.NewGuid(), D = Guid.NewGuid();

    private static Dictionary<Guid, JobOutcome> Observed(params (Guid Id, string? Status, int Completions)[] jobs) =>
        jobs.ToDictionary(j => j.Id, j => new JobOutcome(j.Id, j.Status, j.Completions));

    [Fact]
    public void Every_accepted_job_completed_once_holds()
    {
        var tally = JobLedger.Count([A, B], Observed((A, "succeeded", 1), (B, "succeeded", 1)), [A, B], 0);

        Assert.Equal(new JobTally(2, 2, 0, 0, 0, 0), tally);
        Assert.True(tally.Holds);
    }

    [Fact]
    public void An_accepted_job_the_system_does_not_know_is_lost()
    {
        var tally = JobLedger.Count([A, B], Observed((A, "succeeded", 1), (B, null, 0)), [A], 0);

        Assert.Equal(1, tally.Lost);
        Assert.False(tally.Holds);
    }

    [Fact]
    public void A_job_missing_from_what_was_observed_is_lost() =>
        Assert.Equal(1, JobLedger.Count([A], Observed(), [], 0).Lost);

    [Fact]
    public void Failed_and_unfinished_jobs_are_not_completed()
    {
        var tally = JobLedger.Count([A, B, C], Observed((A, "failed", 0), (B, "queued", 0), (C, "running", 0)), [A, B, C], 0);

        Assert.Equal(new JobTally(3, 0, 1, 2, 0, 0), tally);
        Assert.False(tally.Holds);
    }

    [Fact]
    public void A_job_announced_completed_twice_is_duplicated_not_completed()
    {
        var tally = JobLedger.Count([A, B], Observed((A, "succeeded", 2), (B, "succeeded", 1)), [A, B], 0);

        Assert.Equal((1, 1), (tally.Completed, tally.Duplicated));
        Assert.False(tally.Holds);
    }

    [Fact]
    public void A_job_no_accepted_submission_accounts_for_is_a_duplicate()
    {
        var tally = JobLedger.Count([A], Observed((A, "succeeded", 1)), [A, B, C], unanswered: 1);

        Assert.Equal(1, tally.Duplicated); // one of B and C may be the unanswered submission's job; not both
    }

    [Fact]
    public void Jobs_of_unanswered_submissions_are_not_duplicates() =>
        Assert.True(JobLedger.Count([A], Observed((A, "succeeded", 1)), [A, D], unanswered: 1).Holds);

    [Fact]
    public void The_same_id_accepted_twice_counts_once() =>
        Assert.Equal(1, JobLedger.Count([A, A], Observed((A, "succeeded", 1)), [A], 0).Accepted);

    [Fact]
    public void Tallies_add_up() =>
        Assert.Equal(new JobTally(3, 2, 1, 0, 0, 1), new JobTally(1, 1, 0, 0, 0, 0) + new JobTally(2, 1, 1, 0, 0, 1));
}
