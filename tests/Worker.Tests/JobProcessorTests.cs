using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Worker.Inference;
using Worker.Jobs;
using Worker.Messaging;

namespace Worker.Tests;

public sealed class JobProcessorTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Answers each call with the next scripted outcome.</summary>
    private sealed class ScriptedInference(params InferenceOutcome[] outcomes) : IInferenceClient
    {
        private readonly Queue<InferenceOutcome> _outcomes = new(outcomes);

        public int Calls { get; private set; }

        public Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.FromResult(_outcomes.Dequeue());
        }
    }

    private static JobProcessor Processor(IJobStore store, IInferenceClient inference, int maxAttempts = 3) =>
        new(store, inference, Options.Create(new JobsOptions { MaxAttempts = maxAttempts }), NullLogger<JobProcessor>.Instance);

    [Fact]
    public async Task A_successful_prediction_is_recorded_and_acknowledged()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        var inference = new ScriptedInference(new InferenceOutcome.Succeeded(JsonElement.Parse("""{"model":"sentiment"}""")));

        var outcome = await Processor(db.Store, inference).ProcessAsync(job.Id, Token);

        Assert.Equal(JobProcessingOutcome.Finished, outcome);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Succeeded, stored?.Status);
        Assert.Equal("sentiment", stored?.Result?.GetProperty("model").GetString());
    }

    [Fact]
    public async Task A_rejected_job_fails_with_the_upstream_problem()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync(model: "unicorn");
        var problem = new ProblemDetails { Status = 404, Title = "Unknown model", Extensions = { ["code"] = "model_not_found" } };

        var outcome = await Processor(db.Store, new ScriptedInference(new InferenceOutcome.Rejected(problem))).ProcessAsync(job.Id, Token);

        Assert.Equal(JobProcessingOutcome.Finished, outcome);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Failed, stored?.Status);
        Assert.Equal("model_not_found", stored?.Error?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task An_outage_is_retried_until_the_attempt_limit_then_fails()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        var down = new InferenceOutcome.Unavailable("refused");
        var processor = Processor(db.Store, new ScriptedInference(down, down, down), maxAttempts: 3);

        var first = await processor.ProcessAsync(job.Id, Token);
        var afterFirst = await db.Store.FindAsync(job.Id, Token);
        var second = await processor.ProcessAsync(job.Id, Token);
        var third = await processor.ProcessAsync(job.Id, Token);

        Assert.Equal(JobProcessingOutcome.RetryLater, first);
        Assert.Equal(JobStatus.Queued, afterFirst?.Status);
        Assert.Equal(JobProcessingOutcome.RetryLater, second);
        Assert.Equal(JobProcessingOutcome.Finished, third);
        var stored = await db.Store.FindAsync(job.Id, Token);
        Assert.Equal(JobStatus.Failed, stored?.Status);
        Assert.Equal(3, stored?.Attempts);
        Assert.Equal("upstream_unavailable", stored?.Error?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task A_redelivered_finished_job_is_acknowledged_without_calling_python_again()
    {
        await using var db = await TemporaryJobStore.CreateAsync();
        var job = await db.AddQueuedAsync();
        var inference = new ScriptedInference(new InferenceOutcome.Succeeded(JsonElement.Parse("{}")));
        var processor = Processor(db.Store, inference);

        await processor.ProcessAsync(job.Id, Token);
        var redelivery = await processor.ProcessAsync(job.Id, Token);

        Assert.Equal(JobProcessingOutcome.Finished, redelivery);
        Assert.Equal(1, inference.Calls);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("""{"jobId":"00000000-0000-0000-0000-000000000000"}""")]
    public void Unreadable_job_messages_are_recognised(string body) =>
        Assert.Null(JobMessage.TryParse(System.Text.Encoding.UTF8.GetBytes(body)));

    [Fact]
    public void A_job_message_round_trips()
    {
        var id = Guid.NewGuid();

        Assert.Equal(id, JobMessage.TryParse(new JobMessage(id).ToBytes())?.JobId);
    }
}
