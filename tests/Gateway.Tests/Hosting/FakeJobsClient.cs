using System.Collections.Concurrent;
using Gateway.Application;
using Gateway.Upstream;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Tests.Hosting;

/// <summary>The Worker's job store in memory: a job is found only by the owner that submitted it, as in the Worker.</summary>
public sealed class FakeJobsClient : IJobsClient
{
    private readonly ConcurrentDictionary<Guid, (string Owner, JobView Job)> _jobs = new();

    public ProblemDetails? Failure { get; set; }

    public JobView Add(string owner, string model = "sentiment")
    {
        var now = DateTimeOffset.UtcNow;
        var job = new JobView(Guid.NewGuid(), model, "queued", 0, now, now, null, null);
        _jobs[job.Id] = (owner, job);
        return job;
    }

    /// <summary>A job that failed with <paramref name="error"/>, as the Worker records it.</summary>
    public JobView AddFailed(string owner, ProblemDetails error)
    {
        var now = DateTimeOffset.UtcNow;
        var job = new JobView(Guid.NewGuid(), "sentiment", "failed", 4, now, now, null, error);
        _jobs[job.Id] = (owner, job);
        return job;
    }

    public string? OwnerOf(Guid id) => _jobs.TryGetValue(id, out var entry) ? entry.Owner : null;

    public List<(JobSubmission Submission, string Owner, string? IdempotencyKey)> Submissions { get; } = [];

    /// <summary>Awaited by every submission before it is recorded (a Worker whose commits wait on a stalled disk).</summary>
    public Func<CancellationToken, Task>? SubmitDelay { get; set; }

    public async Task<Outcome<JobView>> SubmitAsync(JobSubmission submission, string owner, string? idempotencyKey,
        CancellationToken cancellationToken)
    {
        if (SubmitDelay is { } delay)
        {
            await delay(cancellationToken);
        }

        lock (Submissions)
        {
            Submissions.Add((submission, owner, idempotencyKey));
        }

        return Failure is { } problem
            ? Outcome.Failure<JobView>(problem)
            : Outcome.Success(Add(owner, submission.Model!));
    }

    public Task<Outcome<JobList>> ListAsync(string owner, string? status, int? pageSize, string? pageToken,
        CancellationToken cancellationToken) =>
        Task.FromResult(Outcome.Success(new JobList(
            [.. _jobs.Values.Where(entry => entry.Owner == owner && (status is null || entry.Job.Status == status)).Select(entry => entry.Job)],
            null)));

    public Task<Outcome<JobView>> GetAsync(Guid id, string owner, CancellationToken cancellationToken) =>
        Task.FromResult(Failure is { } problem
            ? Outcome.Failure<JobView>(problem)
            : _jobs.TryGetValue(id, out var entry) && entry.Owner == owner
                ? Outcome.Success(entry.Job)
                : Outcome.Failure<JobView>(UpstreamProblems.Of(404, "job_not_found", "Unknown job")));
}
