using System.Collections.Concurrent;
using Gateway.Inference;
using Gateway.Jobs;
using Gateway.Upstream;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Tests.Hosting;

/// <summary>
/// Stand-ins for python-inference and the Worker, so the gateway's edge is tested on its own: a model named
/// <c>sentiment</c> exists, any other is not found; jobs are kept in memory per owner, as the Worker keeps them.
/// </summary>
public sealed class FakeInference : IInferenceClient
{
    public Task<UpstreamResult<PredictionResponse>> PredictAsync(PredictionRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(request.Model == "sentiment"
            ? UpstreamResult.Success(new PredictionResponse("sentiment", "1",
                request.Inputs!.Select(_ => new Prediction("positive", 0.9)).ToList()))
            : UpstreamResult.Failure<PredictionResponse>(new ProblemDetails
            {
                Status = 404, Title = "No such model.", Type = "urn:problem:model_not_found",
                Extensions = { ["code"] = "model_not_found" },
            }));

    public Task<UpstreamResult<ModelCatalog>> ListModelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(UpstreamResult.Success(new ModelCatalog(
            [new ModelInfo("sentiment", "1", "text", ["negative", "positive"], 0.84, 100, 25, new string('0', 64), "test")])));
}

public sealed class FakeJobs : IJobsClient
{
    private readonly ConcurrentDictionary<Guid, (string Owner, JobView Job)> _jobs = new();

    public Task<UpstreamResult<JobView>> SubmitAsync(JobSubmission submission, string owner, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var job = new JobView(Guid.CreateVersion7(), submission.Model!, "queued", 0, now, now, null, null);
        _jobs[job.Id] = (owner, job);
        return Task.FromResult(UpstreamResult.Success(job));
    }

    public Task<UpstreamResult<JobView>> GetAsync(Guid id, string owner, CancellationToken cancellationToken) =>
        Task.FromResult(_jobs.TryGetValue(id, out var entry) && entry.Owner == owner
            ? UpstreamResult.Success(entry.Job)
            : UpstreamResult.Failure<JobView>(new ProblemDetails
            {
                Status = 404, Title = "No such job.", Type = "urn:problem:job_not_found",
                Extensions = { ["code"] = "job_not_found" },
            }));
}
