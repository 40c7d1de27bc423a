using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Worker.Events;
using Worker.Jobs;
using Worker.Messaging;

namespace Worker.Tests.Events;

/// <summary>
/// How an event queue's deliveries reach their typed handlers, in process: the same registration and dispatch the
/// consumers use, with the broker's part (ack, reject, requeue) as the returned outcome.
/// </summary>
public sealed class EventDispatchTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly Job Job = Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse("""["great"]"""),
        DateTimeOffset.UtcNow) with { Attempts = 2 };

    [Fact]
    public async Task An_event_goes_to_the_handler_of_its_type_with_its_typed_data()
    {
        var (subscriptions, services, received) = Subscribe(on => on
            .On<JobCompletedData, JobOutcomeRecorder>()
            .On<JobFailedData, JobOutcomeRecorder>()
            .On<ModelActivatedData, ActivationRecorder>());
        var result = JsonElement.Parse("""{"version":"1.1.0","predictions":[{"label":"positive"}]}""");
        var completed = JobEvents.Completed(Job, result, TemporaryJobStore.Messaging, DateTimeOffset.UtcNow);

        var outcome = await subscriptions.DispatchAsync(services, completed.Body, null, NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Ack, outcome);
        var (envelope, data) = Assert.Single(received);
        Assert.Equal(completed.Id, envelope.Id);
        var typed = Assert.IsType<JobCompletedData>(data);
        Assert.Equal(Job.Id, typed.JobId);
        Assert.Equal("alice", typed.Owner);
        Assert.Equal("1.1.0", typed.Version);
        Assert.Equal(2, typed.Attempts);
        Assert.Equal("positive", typed.Predictions?[0].GetProperty("label").GetString());
    }

    [Fact]
    public async Task A_failed_job_reaches_its_handler_with_the_problem()
    {
        var (subscriptions, services, received) = Subscribe(on => on
            .On<JobCompletedData, JobOutcomeRecorder>()
            .On<JobFailedData, JobOutcomeRecorder>());
        var problem = new ProblemDetails { Status = 422, Title = "Bad input", Extensions = { ["code"] = "validation_failed" } };
        var failed = JobEvents.Failed(Job, problem, TemporaryJobStore.Messaging, DateTimeOffset.UtcNow);

        var outcome = await subscriptions.DispatchAsync(services, failed.Body, null, NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Ack, outcome);
        var typed = Assert.IsType<JobFailedData>(Assert.Single(received).Data);
        Assert.Equal(Job.Id, typed.JobId);
        Assert.Equal(422, typed.Error.Status);
        Assert.Equal("validation_failed", typed.Error.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task An_event_nobody_handles_is_acked_and_ignored()
    {
        var (subscriptions, services, received) = Subscribe(on => on.On<JobCompletedData, JobOutcomeRecorder>());

        var outcome = await subscriptions.DispatchAsync(services,
            Envelope("model.activated", """{"model":"sentiment","version":"1.1.0"}"""), null, NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Ack, outcome);
        Assert.Empty(received);
    }

    [Theory]
    [InlineData("""{"owner":"alice","model":"sentiment","attempts":1}""")] // no jobId
    [InlineData("""{"jobId":"not-a-guid","owner":"alice","model":"sentiment","attempts":1}""")]
    [InlineData("""{"jobId":"0190a0a0-0000-7000-8000-000000000001","owner":null,"model":"sentiment","attempts":1}""")]
    [InlineData("42")]
    [InlineData("null")]
    public async Task Data_that_does_not_read_as_its_type_is_rejected_before_any_handler(string data)
    {
        var (subscriptions, services, received) = Subscribe(on => on
            .OnEveryEvent<EveryEventRecorder>()
            .On<JobCompletedData, JobOutcomeRecorder>());

        var outcome = await subscriptions.DispatchAsync(services, Envelope("job.completed", data), null, NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Reject, outcome);
        Assert.Empty(received);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"id":"0190a0a0-0000-7000-8000-000000000001","occurredAt":"2026-01-01T00:00:00Z","source":"worker","data":{}}""")] // no type
    [InlineData("""{"id":"00000000-0000-0000-0000-000000000000","type":"job.completed","occurredAt":"2026-01-01T00:00:00Z","source":"worker","data":{}}""")]
    public async Task An_unreadable_envelope_is_rejected(string body)
    {
        var (subscriptions, services, received) = Subscribe(on => on.OnEveryEvent<EveryEventRecorder>());

        var outcome = await subscriptions.DispatchAsync(services, Encoding.UTF8.GetBytes(body), "m-1", NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Reject, outcome);
        Assert.Empty(received);
    }

    [Fact]
    public async Task An_every_event_handler_sees_every_type_and_the_typed_handlers_their_own()
    {
        var (subscriptions, services, received) = Subscribe(on => on
            .OnEveryEvent<EveryEventRecorder>()
            .On<ModelActivatedData, ActivationRecorder>());

        await subscriptions.DispatchAsync(services, Envelope("prediction.served", """{"model":"sentiment"}"""), null, NullLogger.Instance, Token);
        await subscriptions.DispatchAsync(services, Envelope("model.activated", """{"model":"iris","version":"2"}"""), null, NullLogger.Instance, Token);

        Assert.Equal(["prediction.served", "model.activated", "model.activated"], received.Select(r => r.Envelope.Type));
        Assert.Equal(new ModelActivatedData("iris", "2"), received.Last().Data);
    }

    [Fact]
    public async Task Every_event_of_a_batch_reaches_its_handlers_once()
    {
        var (subscriptions, services, received) = Subscribe(on => on
            .OnEveryEvent<EveryEventRecorder>()
            .On<JobCompletedData, JobOutcomeRecorder>());
        var result = JsonElement.Parse("""{"version":"1","predictions":[]}""");
        var jobs = Enumerable.Range(0, 3).Select(_ => Job with { Id = Guid.CreateVersion7() }).ToList();
        var batch = Assert.Single(EventBatches.Combine(
            [.. jobs.Select(job => JobEvents.Completed(job, result, TemporaryJobStore.Messaging, DateTimeOffset.UtcNow))], 100));

        var outcome = await subscriptions.DispatchAsync(services, batch.Body, batch.Id.ToString(), NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Ack, outcome);
        Assert.Equal(jobs.Select(job => job.Id).Order(),
            received.Select(r => r.Data).OfType<JobCompletedData>().Select(data => data.JobId).Order());
        Assert.Equal(3, received.Count(r => r.Data is JsonElement));
    }

    [Fact]
    public async Task A_batchs_events_are_handled_at_once_so_their_effects_can_share_a_commit()
    {
        var gate = new ArrivalGate(expected: 4);
        var services = new ServiceCollection().AddSingleton(gate);
        services.AddEventConsumer<TestConsumer>().OnEveryEvent<GateHandler>();
        var provider = services.BuildServiceProvider();
        var subscriptions = provider.GetRequiredKeyedService<EventSubscriptions>(typeof(TestConsumer));
        var body = Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Range(0, 4)
            .Select(_ => Encoding.UTF8.GetString(Envelope("model.activated", """{"model":"iris","version":"2"}""")))) + "]");

        // Each handler waits for all four to have started: handled one after another, the first would wait forever.
        var outcome = await subscriptions.DispatchAsync(provider, body, null, NullLogger.Instance, Token)
            .WaitAsync(TimeSpan.FromSeconds(10), Token);

        Assert.Equal(DeliveryOutcome.Ack, outcome);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[42]")]
    [InlineData("[null]")]
    [InlineData("""[{"id":"0190a0a0-0000-7000-8000-000000000001","type":"job.completed","occurredAt":"2026-01-01T00:00:00Z","source":"worker","data":{}}]""")]
    public async Task A_batch_with_any_unreadable_event_is_rejected_before_any_handler(string body)
    {
        var (subscriptions, services, received) = Subscribe(on => on
            .OnEveryEvent<EveryEventRecorder>()
            .On<JobCompletedData, JobOutcomeRecorder>());

        var outcome = await subscriptions.DispatchAsync(services, Encoding.UTF8.GetBytes(body), "m-1", NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Reject, outcome);
        Assert.Empty(received);
    }

    [Fact]
    public async Task A_batch_longer_than_the_contract_allows_is_rejected()
    {
        var (subscriptions, services, received) = Subscribe(on => on.OnEveryEvent<EveryEventRecorder>());
        var one = Encoding.UTF8.GetString(Envelope("model.activated", """{"model":"iris","version":"2"}"""));
        var body = Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Repeat(one, DomainEvent.MaxPerMessage + 1)) + "]");

        var outcome = await subscriptions.DispatchAsync(services, body, "m-1", NullLogger.Instance, Token);

        Assert.Equal(DeliveryOutcome.Reject, outcome);
        Assert.Empty(received);
    }

    [Fact]
    public async Task A_handler_that_fails_fails_the_delivery_so_it_is_not_acked()
    {
        var (subscriptions, services, _) = Subscribe(on => on.On<ModelActivatedData, FailingHandler>());

        await Assert.ThrowsAsync<InvalidOperationException>(() => subscriptions.DispatchAsync(services,
            Envelope("model.activated", """{"model":"iris","version":"2"}"""), null, NullLogger.Instance, Token));
    }

    [Fact]
    public async Task Each_consumer_dispatches_through_its_own_subscriptions()
    {
        var services = new ServiceCollection();
        var received = new ConcurrentQueue<(DomainEvent, object)>();
        services.AddSingleton(received).AddLogging().AddSingleton(Options.Create(new MessagingOptions()));
        services.AddEventConsumer<TestConsumer>().OnEveryEvent<EveryEventRecorder>();
        services.AddEventConsumer<OtherConsumer>().On<ModelActivatedData, ActivationRecorder>();
        await using var provider = services.BuildServiceProvider();
        var activation = Envelope("model.activated", """{"model":"iris","version":"2"}""");

        var first = await ActivatorUtilities.CreateInstance<TestConsumer>(provider).DeliverAsync(activation);
        var second = await ActivatorUtilities.CreateInstance<OtherConsumer>(provider).DeliverAsync(activation);

        Assert.Equal((DeliveryOutcome.Ack, DeliveryOutcome.Ack), (first, second));
        Assert.Equal([typeof(JsonElement), typeof(ModelActivatedData)], received.Select(r => r.Item2.GetType()));
    }

    [Fact]
    public void One_event_type_carries_one_data_type()
    {
        var services = new ServiceCollection();

        var builder = services.AddEventConsumer<TestConsumer>().On<ModelActivatedData, ActivationRecorder>();

        Assert.Throws<InvalidOperationException>(() => builder.On<MisnamedActivation, MisnamedRecorder>());
    }

    private static (EventSubscriptions Subscriptions, IServiceProvider Services, ConcurrentQueue<(DomainEvent Envelope, object Data)> Received)
        Subscribe(Action<EventConsumerBuilder> subscribe)
    {
        var services = new ServiceCollection();
        var received = new ConcurrentQueue<(DomainEvent, object)>();
        services.AddSingleton(received);
        subscribe(services.AddEventConsumer<TestConsumer>());
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = false });
        return (provider.GetRequiredKeyedService<EventSubscriptions>(typeof(TestConsumer)), provider, received);
    }

    private static byte[] Envelope(string type, string data) => Encoding.UTF8.GetBytes(
        $$"""{"id":"{{Guid.CreateVersion7()}}","type":"{{type}}","occurredAt":"2026-01-01T00:00:00Z","source":"test","data":{{data}}}""");

    private class TestConsumer(IServiceProvider services, IOptions<MessagingOptions> options, ILogger<TestConsumer> logger)
        : EventConsumer(services, options, logger)
    {
        protected override string QueueName => "events.test";

        public Task<DeliveryOutcome> DeliverAsync(byte[] body) => HandleAsync(
            new BasicDeliverEventArgs("test", 1, redelivered: false, "events", "", new BasicProperties(), body), Token);
    }

    private sealed class OtherConsumer(IServiceProvider services, IOptions<MessagingOptions> options, ILogger<TestConsumer> logger)
        : TestConsumer(services, options, logger);

    private sealed class JobOutcomeRecorder(ConcurrentQueue<(DomainEvent, object)> received)
        : IHandleEvent<JobCompletedData>, IHandleEvent<JobFailedData>
    {
        public Task HandleAsync(DomainEvent envelope, JobCompletedData data, CancellationToken cancellationToken) => Record(envelope, data);

        public Task HandleAsync(DomainEvent envelope, JobFailedData data, CancellationToken cancellationToken) => Record(envelope, data);

        private Task Record(DomainEvent envelope, object data)
        {
            received.Enqueue((envelope, data));
            return Task.CompletedTask;
        }
    }

    private sealed class ActivationRecorder(ConcurrentQueue<(DomainEvent, object)> received) : IHandleEvent<ModelActivatedData>
    {
        public Task HandleAsync(DomainEvent envelope, ModelActivatedData data, CancellationToken cancellationToken)
        {
            received.Enqueue((envelope, data));
            return Task.CompletedTask;
        }
    }

    private sealed class EveryEventRecorder(ConcurrentQueue<(DomainEvent, object)> received) : IHandleEveryEvent
    {
        public Task HandleAsync(DomainEvent envelope, CancellationToken cancellationToken)
        {
            received.Enqueue((envelope, envelope.Data));
            return Task.CompletedTask;
        }
    }

    private sealed class ArrivalGate(int expected)
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _arrived;

        public Task ArriveAsync()
        {
            if (Interlocked.Increment(ref _arrived) == expected)
            {
                _all.SetResult();
            }

            return _all.Task;
        }
    }

    private sealed class GateHandler(ArrivalGate gate) : IHandleEveryEvent
    {
        public Task HandleAsync(DomainEvent envelope, CancellationToken cancellationToken) => gate.ArriveAsync();
    }

    private sealed class FailingHandler : IHandleEvent<ModelActivatedData>
    {
        public Task HandleAsync(DomainEvent envelope, ModelActivatedData data, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The effect could not be committed.");
    }

    private sealed record MisnamedActivation(string Model) : IEventData
    {
        public static string EventType => DomainEvent.ModelActivated;
    }

    private sealed class MisnamedRecorder : IHandleEvent<MisnamedActivation>
    {
        public Task HandleAsync(DomainEvent envelope, MisnamedActivation data, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
