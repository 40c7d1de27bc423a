using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using Tests.Metrics;
using Worker.Inference;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Webhooks;

namespace Worker.Tests.Messaging;

/// <summary>
/// The jobs queue's length limit on a real RabbitMQ (<see cref="LocalBroker"/>, one per class): a full queue nacks, a
/// submission is refused with 503 and not kept, a message already in the outbox waits there until there is room, and a
/// retry whose delay ends while the queue is full still runs. On the same broker and the real Worker host
/// (<c>RunningWorker</c>): a batch of submissions answered one by one, and jobs that arrive while a recent job batch is at
/// the model going together in the next. Each test uses queues of its own names.
/// </summary>
public sealed class QueueLimitTests(QueueLimitTests.Broker broker) : IClassFixture<QueueLimitTests.Broker>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static MessagingOptions Limited(int maxLength) => new()
    {
        JobsQueue = $"jobs-{Guid.NewGuid():N}",
        DeadLetterQueue = $"dead-{Guid.NewGuid():N}",
        RetryDelays = [TimeSpan.FromMinutes(1)],
        JobsQueueMaxLength = maxLength,
        PublishTimeout = TimeSpan.FromSeconds(10),
        OutboxPollInterval = TimeSpan.FromMilliseconds(50),
        OutboxGracePeriod = TimeSpan.FromMilliseconds(100),
        RetryAfter = TimeSpan.FromSeconds(7),
    };

    [Fact]
    public async Task A_submission_to_a_full_jobs_queue_is_refused_with_503_and_not_kept()
    {
        var messaging = Limited(maxLength: 2);
        await broker.DeclareAsync(messaging);
        await using var db = await TemporaryJobStore.CreateAsync(messaging: messaging);
        await using var publisher = broker.Publisher(messaging);
        using var meters = new MeterCapture();
        var jobs = new JobSubmissions(db.Store, db.AdmitWith(publisher), new CallbackUrlPolicy(Options.Create(new WebhookOptions())),
            Options.Create(new JobsOptions()), Options.Create(messaging), TimeProvider.System,
            new JobMetrics(meters.Factory));
        JobSubmission Submission(int i) => new("alice", "sentiment", JsonElement.Parse($"""["text {i}"]"""), null, $"key-{i}");

        var first = await jobs.SubmitAsync(Submission(1), Token);
        var second = await jobs.SubmitAsync(Submission(2), Token);
        var third = await jobs.SubmitAsync(Submission(3), Token);

        Assert.True(first.Value?.Created);
        Assert.True(second.Value?.Created);
        Assert.Equal(503, third.Problem?.Status);
        Assert.Equal("queue_full", third.Problem?.Extensions["code"]);
        Assert.Equal(7, third.Problem?.Extensions["retryAfter"]);
        Assert.Equal(2, (await db.Store.ListAsync("alice", null, 10, null, Token)).Jobs.Count); // the refused one is gone
        Assert.Empty(await db.PendingAsync());
        Assert.Equal(2u, await broker.MessageCountAsync(messaging.JobsQueue));
    }

    [Fact]
    public async Task A_job_message_already_in_the_outbox_waits_there_while_the_queue_is_full_and_is_published_after()
    {
        var messaging = Limited(maxLength: 1);
        await broker.DeclareAsync(messaging);
        await using var db = await TemporaryJobStore.CreateAsync(messaging: messaging);
        await using var publisher = broker.Publisher(messaging);
        await publisher.PublishAsync(TemporaryJobStore.JobMessageFor(Job.Queued(Guid.CreateVersion7(), "x", "sentiment",
            JsonElement.Parse("""["fills the queue"]"""), DateTimeOffset.UtcNow)) with { RoutingKey = messaging.JobsQueue }, null, Token);
        // Committed with its message, as a submission whose process died before the confirm leaves it.
        var job = Job.Queued(Guid.CreateVersion7(), "alice", "sentiment", JsonElement.Parse("""["waits"]"""), DateTimeOffset.UtcNow);
        await db.Store.AddAsync(job, "hash", 10, Token);
        using var relay = new OutboxRelay(db.Outbox, publisher, Options.Create(messaging), TimeProvider.System,
            NullLogger<OutboxRelay>.Instance);

        await relay.StartAsync(Token);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2), Token); // several relay passes, each nacked
            Assert.Equal(job.Id, Assert.Single(await db.PendingAsync()).JobId);
            Assert.Equal(1u, await broker.MessageCountAsync(messaging.JobsQueue));

            await broker.PurgeAsync(messaging.JobsQueue); // consumers made room
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Token);
            deadline.CancelAfter(Deadline);
            while ((await db.PendingAsync()).Count > 0)
            {
                await Task.Delay(50, deadline.Token);
            }

            Assert.Equal(1u, await broker.MessageCountAsync(messaging.JobsQueue));
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_jobs_queue_created_without_the_limit_is_detected_and_used_as_it_is()
    {
        var messaging = Limited(maxLength: 5);
        await using (var old = await broker.Connection.CreateChannelAsync(cancellationToken: Token))
        {
            // What a build before the limit declared.
            await old.QueueDeclareAsync(messaging.JobsQueue, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?>
                {
                    ["x-dead-letter-exchange"] = string.Empty,
                    ["x-dead-letter-routing-key"] = messaging.DeadLetterQueue,
                }, cancellationToken: Token);
        }

        var fresh = Limited(maxLength: 5);

        Assert.True(await MessagingTopology.JobsQueueDiffersAsync(broker.Connection, messaging, Token));
        Assert.False(await MessagingTopology.JobsQueueDiffersAsync(broker.Connection, fresh, Token));
        await using var channel = await broker.Connection.CreateChannelAsync(cancellationToken: Token);
        await MessagingTopology.DeclareJobQueuesAsync(channel, messaging, Token, jobsQueueExists: true);
        Assert.True(channel.IsOpen);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_retry_that_comes_due_while_the_jobs_queue_is_full_still_runs_and_the_job_completes()
    {
        var inference = new GatedInference();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(90));
            await using var worker = await RunningWorker.StartAsync(broker, inference, new Dictionary<string, string>
            {
                ["Messaging:JobsQueueMaxLength"] = "1",
                ["Messaging:JobPrefetchCount"] = "1", // the blocked job holds the only delivery of jobs
                ["Messaging:RetryDelays:0"] = "00:00:05",
            }, deadline.Token);
            var (http, jobsQueue) = (worker.Http, worker.JobsQueue);

            // The first attempt of "flaky" fails: it waits 5 s in jobs.retry.5s.
            var flaky = await SubmitAsync(http, GatedInference.Flaky, deadline.Token);
            await inference.Seen(GatedInference.Flaky).WaitAsync(deadline.Token);
            // Meanwhile "blocker" is taken and held, and "filler" fills jobs: the next submission is refused.
            var blocker = await SubmitAsync(http, GatedInference.Blocker, deadline.Token);
            await inference.Seen(GatedInference.Blocker).WaitAsync(deadline.Token);
            var filler = await SubmitAsync(http, "filler", deadline.Token);
            var refused = await http.PostAsJsonAsync("/v1/jobs", new { model = "sentiment", inputs = new[] { "one too many" } }, deadline.Token);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal(1u, await broker.MessageCountAsync(jobsQueue));

            // The retry comes due while jobs is still full; it is not dropped: the job completes.
            using (var retried = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token))
            {
                retried.CancelAfter(TimeSpan.FromSeconds(30));
                var status = await FinalStatusAsync(http, flaky, retried.Token).ContinueWith(
                    finished => finished.IsCanceled ? "still queued 30 s later: the retry was lost" : finished.Result, TaskScheduler.Default);
                Assert.Equal("succeeded", status);
            }

            Assert.Equal(2, inference.Calls(GatedInference.Flaky));
            Assert.Equal(1u, await broker.MessageCountAsync(jobsQueue)); // still full: the retry went around it

            inference.Release();
            Assert.Equal("succeeded", await FinalStatusAsync(http, blocker, deadline.Token));
            Assert.Equal("succeeded", await FinalStatusAsync(http, filler, deadline.Token));
        }
        finally
        {
            inference.Release();
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_batch_of_submissions_answers_each_as_if_alone_and_each_job_continues_its_own_trace()
    {
        var submitted = new System.Collections.Concurrent.ConcurrentBag<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == Microsoft.Extensions.Hosting.Telemetry.ActivitySourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) =>
                System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.DisplayName == "submit job")
                {
                    submitted.Add(activity);
                }
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(90));
        await using var worker = await RunningWorker.StartAsync(broker, new GatedInference(), new Dictionary<string, string>(), deadline.Token);
        var http = worker.Http;

        var earlier = await http.PostAsJsonAsync("/v1/jobs",
            new { model = "sentiment", inputs = new[] { "earlier" }, idempotencyKey = "earlier" }, deadline.Token);
        var earlierId = (await earlier.Content.ReadFromJsonAsync<JsonElement>(deadline.Token)).GetProperty("id").GetGuid();
        var traces = Enumerable.Range(0, 2).Select(_ => System.Diagnostics.ActivityTraceId.CreateRandom()).ToList();
        var spans = Enumerable.Range(0, 2).Select(_ => System.Diagnostics.ActivitySpanId.CreateRandom()).ToList();

        var response = await http.PostAsJsonAsync("/v1/jobs/batch", new
        {
            jobs = new object[]
            {
                new { model = "sentiment", inputs = new[] { "first" }, traceParent = $"00-{traces[0]}-{spans[0]}-01" },
                new { model = "sentiment", inputs = new[] { "earlier" }, idempotencyKey = "earlier" }, // the same request again
                new { model = "sentiment", inputs = new[] { "other" }, idempotencyKey = "earlier" }, // the key, another body
                new { model = "sentiment", inputs = Array.Empty<string>() }, // invalid
                new { model = "sentiment", inputs = new[] { "second" }, traceParent = $"00-{traces[1]}-{spans[1]}-01" },
            },
        }, deadline.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.Content.ReadFromJsonAsync<JsonElement>(deadline.Token)).GetProperty("results")
            .EnumerateArray().ToList();
        Assert.Equal([201, 200, 422, 400, 201], results.Select(result => result.GetProperty("status").GetInt32()));
        Assert.Equal(earlierId, results[1].GetProperty("job").GetProperty("id").GetGuid());
        Assert.Equal("idempotency_key_reused", results[2].GetProperty("problem").GetProperty("code").GetString());
        Assert.Equal("validation_failed", results[3].GetProperty("problem").GetProperty("code").GetString());
        foreach (var accepted in new[] { results[0], results[4] })
        {
            Assert.Equal("succeeded", await FinalStatusAsync(http, accepted.GetProperty("job").GetProperty("id").GetGuid(), deadline.Token));
        }

        // Each accepted submission ran in a span of its own request's trace, a child of the span that sent it.
        for (var i = 0; i < 2; i++)
        {
            Assert.Contains(submitted, span => span.TraceId == traces[i] && span.ParentSpanId == spans[i]);
        }

        foreach (var body in new object[] { new { jobs = Array.Empty<object>() }, new { jobs = Enumerable.Repeat(new { model = "sentiment", inputs = new[] { "x" } }, 101) } })
        {
            var refused = await http.PostAsJsonAsync("/v1/jobs/batch", body, deadline.Token);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Jobs_that_arrive_while_a_recent_batch_is_at_the_model_wait_and_go_together_in_the_next()
    {
        var inference = new GatedInference();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(90));
            await using var worker = await RunningWorker.StartAsync(broker, inference, new Dictionary<string, string>
            {
                ["Messaging:JobBatchOverlapAfter"] = "00:01:00", // the blocker's batch stays recent
            }, deadline.Token);
            var (http, jobsQueue) = (worker.Http, worker.JobsQueue);

            var blocker = await SubmitAsync(http, GatedInference.Blocker, deadline.Token);
            await inference.Seen(GatedInference.Blocker).WaitAsync(deadline.Token);
            string[] texts = ["a", "b", "c", "d", "e"];
            var others = new List<Guid>();
            foreach (var text in texts)
            {
                others.Add(await SubmitAsync(http, text, deadline.Token));
            }

            // All five are delivered (none left in the queue), and none reaches the model while the blocker's batch
            // is recent, though three batch handlers are free.
            while (await broker.MessageCountAsync(jobsQueue) > 0)
            {
                await Task.Delay(50, deadline.Token);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), deadline.Token);
            Assert.All(texts, text => Assert.Equal(0, inference.Calls(text)));

            inference.Release();
            foreach (var id in others.Prepend(blocker))
            {
                Assert.Equal("succeeded", await FinalStatusAsync(http, id, deadline.Token));
            }

            Assert.Equal([1, 5], inference.ManyCalls); // the blocker alone, then the five in one call
        }
        finally
        {
            inference.Release();
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task The_jobs_of_one_message_go_to_the_model_together_and_one_that_failed_is_retried_alone()
    {
        var inference = new GatedInference();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(90));
            await using var worker = await RunningWorker.StartAsync(broker, inference, new Dictionary<string, string>
            {
                ["Messaging:JobPrefetchCount"] = "1", // the blocker holds the only delivery: the others wait in the queue
                ["Messaging:RetryDelays:0"] = "00:00:01",
            }, deadline.Token);
            var (http, jobsQueue) = (worker.Http, worker.JobsQueue);
            var blocker = await SubmitAsync(http, GatedInference.Blocker, deadline.Token);
            await inference.Seen(GatedInference.Blocker).WaitAsync(deadline.Token);

            // Submitted together, admitted in as few transactions as arrived together: one message each.
            string[] texts = [GatedInference.Flaky, "a", "b", "c", "d", "e"];
            var response = await http.PostAsJsonAsync("/v1/jobs/batch",
                new { jobs = texts.Select(text => new { model = "sentiment", inputs = new[] { text } }) }, deadline.Token);
            var ids = (await response.Content.ReadFromJsonAsync<JsonElement>(deadline.Token)).GetProperty("results")
                .EnumerateArray().Select(result => result.GetProperty("job").GetProperty("id").GetGuid()).ToList();
            var messages = (int)await broker.MessageCountAsync(jobsQueue);
            Assert.InRange(messages, 1, texts.Length - 1);

            inference.Release();
            foreach (var id in ids.Prepend(blocker))
            {
                Assert.Equal("succeeded", await FinalStatusAsync(http, id, deadline.Token));
            }

            // Each message was one model call of its jobs; "flaky" failed in its message's call and came back alone.
            var calls = inference.ManyCalls;
            Assert.True(1 + messages + 1 == calls.Count, $"{messages} messages, model calls of [{string.Join(", ", calls)}] jobs");
            Assert.Equal(texts.Length, calls.Skip(1).SkipLast(1).Sum());
            Assert.Equal(1, calls[^1]);
            Assert.Equal(2, inference.Calls(GatedInference.Flaky));
            Assert.All(texts.Skip(1), text => Assert.Equal(1, inference.Calls(text)));
        }
        finally
        {
            inference.Release();
        }
    }

    [Fact]
    public async Task Retry_queues_of_an_older_build_are_recreated_when_empty_and_kept_until_they_drain()
    {
        var messaging = Limited(maxLength: 5);
        messaging.RetryDelays = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2)];
        var (empty, holding) = (MessagingTopology.RetryQueueName(messaging, TimeSpan.FromMinutes(1)),
            MessagingTopology.RetryQueueName(messaging, TimeSpan.FromMinutes(2)));
        await using (var old = await broker.Connection.CreateChannelAsync(cancellationToken: Token))
        {
            foreach (var (queue, ttl) in new[] { (empty, 60_000L), (holding, 120_000L) })
            {
                // What a build before jobs.retries declared: retries dead-letter straight back into jobs.
                await old.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                    arguments: new Dictionary<string, object?>
                    {
                        ["x-message-ttl"] = ttl,
                        ["x-dead-letter-exchange"] = string.Empty,
                        ["x-dead-letter-routing-key"] = messaging.JobsQueue,
                    }, cancellationToken: Token);
            }

            await old.BasicPublishAsync(string.Empty, holding, "{}"u8.ToArray(), Token);
        }

        var outdated = await MessagingTopology.UpgradeRetryQueuesAsync(broker.Connection, messaging, Token);

        Assert.Equal([holding], outdated);
        await using var channel = await broker.Connection.CreateChannelAsync(cancellationToken: Token);
        await MessagingTopology.DeclareJobQueuesAsync(channel, messaging, Token, outdatedRetryQueues: outdated);
        Assert.True(channel.IsOpen);
        Assert.Equal(1u, await broker.MessageCountAsync(holding)); // its retry is still there
        // The empty one now has the new arguments; the other is upgraded at a later start, once drained.
        Assert.Equal([holding], await MessagingTopology.UpgradeRetryQueuesAsync(broker.Connection, messaging, Token));
        await broker.PurgeAsync(holding);
        Assert.Empty(await MessagingTopology.UpgradeRetryQueuesAsync(broker.Connection, messaging, Token));
    }

    private static async Task<Guid> SubmitAsync(HttpClient http, string text, CancellationToken cancellationToken)
    {
        var response = await http.PostAsJsonAsync("/v1/jobs", new { model = "sentiment", inputs = new[] { text } }, cancellationToken);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetGuid();
    }

    private static async Task<string?> FinalStatusAsync(HttpClient http, Guid id, CancellationToken cancellationToken)
    {
        while (true)
        {
            var job = await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}", cancellationToken);
            if (job.GetProperty("status").GetString() is not ("queued" or "running") and var status)
            {
                return status;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Service tokens are short-lived: each request carries a new one.</summary>
    private sealed class FreshGatewayToken : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                Security.ServiceTokens.Gateway("tester", "jobs"));
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>
    /// The real Worker host on the class's broker, with a database and job queues of its own names and
    /// <paramref name="inference"/> in place of python-inference; started once its consumer has declared the queues
    /// (until then a submission is refused). Disposing stops it and deletes its database.
    /// </summary>
    private sealed class RunningWorker : IAsyncDisposable
    {
        private readonly string _database = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));
        private readonly WorkerFactory _factory;

        private RunningWorker(Broker broker, IInferenceClient inference, IReadOnlyDictionary<string, string> settings)
        {
            JobsQueue = $"jobs-{Guid.NewGuid():N}";
            _factory = new WorkerFactory(broker.ConnectionString, Path.Combine(_database, "jobs.db"), inference,
                new Dictionary<string, string>(settings)
                {
                    ["Messaging:JobsQueue"] = JobsQueue,
                    ["Messaging:DeadLetterQueue"] = $"{JobsQueue}.dead",
                });
            Http = _factory.CreateDefaultClient(new FreshGatewayToken());
        }

        public string JobsQueue { get; }

        public HttpClient Http { get; }

        public static async Task<RunningWorker> StartAsync(Broker broker, IInferenceClient inference,
            IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
        {
            var worker = new RunningWorker(broker, inference, settings);
            try
            {
                while (!await broker.QueueExistsAsync($"{worker.JobsQueue}.retries"))
                {
                    await Task.Delay(100, cancellationToken);
                }

                return worker;
            }
            catch
            {
                await worker.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await _factory.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(_database))
            {
                Directory.Delete(_database, recursive: true);
            }
        }
    }

    private sealed class WorkerFactory(string messaging, string databasePath, IInferenceClient inference,
        IReadOnlyDictionary<string, string> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("ConnectionStrings:messaging", messaging);
            builder.UseSetting("Jobs:DatabasePath", databasePath);
            builder.UseSetting("Webhooks:SigningSecret", "queue-limit-tests-secret-0123456789");
            foreach (var (key, value) in Security.ServiceTokens.WorkerSettings.Concat(settings))
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<IInferenceClient>();
                services.AddSingleton(inference);
            });
        }
    }

    /// <summary>
    /// python-inference as the test scripts it: <see cref="Flaky"/> is unavailable the first time, <see cref="Blocker"/>
    /// waits for <see cref="Release"/>, anything else is positive at once.
    /// </summary>
    private sealed class GatedInference : IInferenceClient
    {
        public const string Flaky = "flaky";
        public const string Blocker = "blocker";
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _calls = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> _seen = new();
        private readonly System.Collections.Concurrent.ConcurrentQueue<int> _manyCalls = new();

        public Task Seen(string input) => SeenSource(input).Task;

        public int Calls(string input) => _calls.GetValueOrDefault(input);

        public void Release() => _gate.TrySetResult();

        /// <summary>How many jobs each batch's model call carried, in order.</summary>
        public IReadOnlyList<int> ManyCalls => [.. _manyCalls];

        public async Task<IReadOnlyList<InferenceOutcome>> PredictManyAsync(string model, IReadOnlyList<JsonElement> inputs,
            CancellationToken cancellationToken)
        {
            _manyCalls.Enqueue(inputs.Count);
            var outcomes = new List<InferenceOutcome>(inputs.Count);
            foreach (var jobInputs in inputs)
            {
                outcomes.Add(await PredictAsync(model, jobInputs, cancellationToken));
            }

            return outcomes;
        }

        public async Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken)
        {
            var input = inputs[0].GetString()!;
            var call = _calls.AddOrUpdate(input, 1, (_, calls) => calls + 1);
            SeenSource(input).TrySetResult();
            if (input == Flaky && call == 1)
            {
                return new InferenceOutcome.Unavailable("python-inference is restarting");
            }

            if (input == Blocker)
            {
                await _gate.Task.WaitAsync(cancellationToken);
            }

            return new InferenceOutcome.Succeeded(JsonSerializer.SerializeToElement(new
            {
                model,
                version = "test",
                predictions = new[] { new { label = "positive", score = 0.9 } },
            }));
        }

        private TaskCompletionSource SeenSource(string input) =>
            _seen.GetOrAdd(input, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>The class's broker and a connection to it.</summary>
    public sealed class Broker : IAsyncLifetime
    {
        private readonly LocalBroker _server = LocalBroker.OnFreePort();
        private ServiceProvider? _services;

        public IConnection Connection => _services!.GetRequiredService<IConnection>();

        public string ConnectionString => _server.ConnectionString;

        public async ValueTask InitializeAsync()
        {
            await _server.StartAsync(TimeSpan.FromSeconds(90), CancellationToken.None);
            var connection = await new ConnectionFactory { Uri = new Uri(_server.ConnectionString) }.CreateConnectionAsync();
            _services = new ServiceCollection().AddSingleton(connection).BuildServiceProvider();
        }

        public async Task DeclareAsync(MessagingOptions messaging)
        {
            await using var channel = await Connection.CreateChannelAsync(cancellationToken: Token);
            await MessagingTopology.DeclareJobQueuesAsync(channel, messaging, Token);
        }

        internal RabbitMqPublisher Publisher(MessagingOptions messaging) => new(_services!, Options.Create(messaging));

        public async Task<uint> MessageCountAsync(string queue)
        {
            await using var channel = await Connection.CreateChannelAsync(cancellationToken: Token);
            return await channel.MessageCountAsync(queue, Token);
        }

        public async Task<bool> QueueExistsAsync(string queue)
        {
            await using var channel = await Connection.CreateChannelAsync(cancellationToken: Token);
            try
            {
                await channel.QueueDeclarePassiveAsync(queue, Token);
                return true;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                return false;
            }
        }

        public async Task PurgeAsync(string queue)
        {
            await using var channel = await Connection.CreateChannelAsync(cancellationToken: Token);
            await channel.QueuePurgeAsync(queue, Token);
        }

        public async ValueTask DisposeAsync()
        {
            if (_services is not null)
            {
                await _services.DisposeAsync();
            }

            await _server.DisposeAsync();
        }
    }
}
