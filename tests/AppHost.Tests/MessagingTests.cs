using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace AppHost.Tests;

/// <summary>
/// The durability contract against the real broker and real processes: crashes, a poison job, events to consumers in
/// both languages, webhooks. Kills and stops resources, so it runs alone on the stack. (The broker restart runs on the
/// PostgreSQL stack: <see cref="PostgresReplicaTests"/>.)
/// </summary>
[Collection(nameof(OutageTests))]
public sealed class MessagingTests(AppHostFixture stack)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    private HttpClient ClientFor(string subject) => stack.CreateGatewayClient(stack.Tokens.Create(subject: subject));

    /// <summary>
    /// Submits until the gateway gives 202, repeating the same Idempotency-Key after a 503 (as a client should);
    /// each refusal is reported to <paramref name="refused"/>.
    /// </summary>
    internal static async Task<Guid> SubmitAsync(HttpClient client, string key, object body, CancellationToken cancellationToken,
        Action<string>? refused = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs") { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await client.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetGuid();
            }

            var refusal = $"submission {key}, attempt {attempt}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
            refused?.Invoke(refusal);
            Assert.True(response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway && attempt < 60, refusal);
            await Task.Delay(250, cancellationToken);
        }
    }

    internal static async Task<List<JsonElement>> ListAllAsync(HttpClient client, string? status, CancellationToken cancellationToken)
    {
        var jobs = new List<JsonElement>();
        string? token = null;
        do
        {
            var query = $"/api/v1/jobs?pageSize=100{(status is null ? "" : $"&status={status}")}{(token is null ? "" : $"&pageToken={token}")}";
            var page = await client.GetFromJsonAsync<JsonElement>(query, cancellationToken);
            jobs.AddRange(page.GetProperty("items").EnumerateArray());
            token = page.GetProperty("nextPageToken").GetString();
        }
        while (token is not null);
        return jobs;
    }

    internal static async Task WaitUntilAllFinishedAsync(HttpClient client, int expected, CancellationToken cancellationToken)
    {
        while ((await ListAllAsync(client, "succeeded", cancellationToken)).Count + (await ListAllAsync(client, "failed", cancellationToken)).Count < expected)
        {
            await Task.Delay(500, cancellationToken);
        }
    }

    internal static async Task<List<JsonElement>> AuditTrailAsync(HttpClient worker, Guid jobId, CancellationToken cancellationToken) =>
        [.. (await worker.GetFromJsonAsync<JsonElement>($"/v1/audit/jobs/{jobId}", cancellationToken)).EnumerateArray()];

    [Fact]
    public Task A_thousand_jobs_survive_two_worker_kills_and_a_graceful_stop_unseen_by_clients_each_recorded_once() =>
        ThousandJobsSurviveWorkerKillsAsync(stack);

    /// <summary>
    /// A thousand jobs while two Worker replicas are killed (SIGKILL) and one is stopped gracefully: no client sees an
    /// error, every job succeeds once and is announced once. Shared by the SQLite and the PostgreSQL stack.
    /// </summary>
    internal static async Task ThousandJobsSurviveWorkerKillsAsync(AppHostFixture stack)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"durability-{Guid.NewGuid():N}"));
        var replicas = stack.ReplicasOf("worker");
        Assert.Equal(stack.WorkerReplicas, replicas.Count);

        var ids = new ConcurrentDictionary<int, Guid>();
        var refusals = new ConcurrentQueue<string>();
        var started = 0;
        var completed = 0;
        // Kill each replica once (SIGKILL) while jobs are being submitted and processed, and bring it back; then
        // stop one gracefully (SIGTERM: it stops consuming and finishes or returns what it holds) and restart it.
        // Each event comes once `after` + 20 submissions completed; submissions from `after` on wait until the
        // previous event's replica is back (so they cannot all finish during that restart, however fast the store),
        // and those from `after + 100` on wait for the event itself: submission cannot be over before the event, and
        // some are always in flight when it lands.
        var events = new (string Replica, int After, bool Kill)[] { (replicas[0], 150, true), (replicas[1], 500, true), (replicas[0], 800, false) };
        var reached = events.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var previousBack = events.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        previousBack[0].TrySetResult();
        var submitting = Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = timeout.Token },
            async (i, ct) =>
            {
                for (var e = 0; e < events.Length && i >= events[e].After; e++)
                {
                    await previousBack[e].Task.WaitAsync(ct);
                    if (i >= events[e].After + 100)
                    {
                        await reached[e].Task.WaitAsync(ct);
                    }
                }

                Interlocked.Increment(ref started);
                ids[i] = await SubmitAsync(client, $"job-{i}", new { model = "sentiment", inputs = new[] { $"Review {i}: really lovely." } }, ct,
                    refusals.Enqueue);
                Interlocked.Increment(ref completed);
            });

        var inFlight = new List<string>();
        try
        {
            foreach (var (((replica, after, kill), gate), e) in events.Zip(reached).Select((step, e) => (step, e)))
            {
                while (Volatile.Read(ref completed) < after + 20)
                {
                    if (submitting.IsCompleted)
                    {
                        await submitting; // a failed submission's own exception
                        Assert.Fail("submission ended before the replicas were killed");
                    }

                    await Task.Delay(20, timeout.Token);
                }

                var (startedAt, completedAt) = (Volatile.Read(ref started), Volatile.Read(ref completed));
                await (kill ? stack.KillInstanceAsync(replica, timeout.Token) : stack.StopInstanceAsync(replica, timeout.Token));
                inFlight.Add($"{(kill ? "kill" : "stop")} {replica}: {completedAt} submissions done, {startedAt - completedAt} in flight");
                Assert.True(completedAt < 1000 && startedAt > completedAt, $"nothing was in flight: {inFlight[^1]}");
                gate.TrySetResult();
                await stack.StartInstanceAsync(replica, timeout.Token);
                if (e + 1 < events.Length)
                {
                    previousBack[e + 1].TrySetResult();
                }
            }
        }
        finally
        {
            // A failed step must not leave submissions waiting for their gate until the timeout.
            Array.ForEach(reached, gate => gate.TrySetResult());
            Array.ForEach(previousBack, gate => gate.TrySetResult());
        }

        await submitting;
        TestContext.Current.SendDiagnosticMessage(string.Join("; ", inFlight));
        // One replica was always serving, and the gateway retries a submission whose replica died under it (with the
        // same idempotency key), so no client saw an error.
        if (!refusals.IsEmpty)
        {
            Assert.Fail($"{refusals.Count} submissions were refused: {string.Join(" | ", refusals.Take(5))}{Environment.NewLine}" +
                $"{string.Join("; ", inFlight)}{Environment.NewLine}" +
                await WarningsOfRefusalsAsync(stack, refusals, timeout.Token));
        }

        Assert.Equal(1000, ids.Values.Distinct().Count());
        await WaitUntilAllFinishedAsync(client, 1000, timeout.Token);

        var all = await ListAllAsync(client, null, timeout.Token);
        Assert.Equal(1000, all.Count); // no job twice: every retried submission found its first job
        Assert.All(all, job => Assert.Equal("succeeded", job.GetProperty("status").GetString()));
        // Each result is recorded, and announced, exactly once: one job.completed per job reaches the audit log.
        using var worker = await stack.AuditReaderAsync();
        var completions = new ConcurrentDictionary<Guid, int>();
        do
        {
            await Task.Delay(500, timeout.Token);
            await Parallel.ForEachAsync(ids.Values.Where(id => completions.GetValueOrDefault(id) == 0),
                new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = timeout.Token },
                async (id, ct) => completions[id] = (await AuditTrailAsync(worker, id, ct)).Count(e => e.GetProperty("type").GetString() == "job.completed"));
        }
        while (completions.Values.Any(count => count == 0) || completions.Count < ids.Count);

        Assert.All(completions.Values, count => Assert.Equal(1, count));
    }

    /// <summary>
    /// The warnings and errors logged in the refused submissions' traces (the gateway's reason for each 503 among them:
    /// a batch of submissions is one call to the Worker, in its first caller's trace), for the failure's message: a CI
    /// run once refused 12 submissions around a kill, and its message said only that.
    /// </summary>
    private static async Task<string> WarningsOfRefusalsAsync(AppHostFixture stack, IEnumerable<string> refusals, CancellationToken cancellationToken)
    {
        var traces = refusals.Select(refusal => System.Text.RegularExpressions.Regex.Match(refusal, "\"traceId\":\"([0-9a-f]{32})\""))
            .Where(match => match.Success).Select(match => match.Groups[1].Value).Distinct().Take(20).ToList();
        var lines = new List<string>();
        foreach (var trace in traces)
        {
            lines.AddRange((await DashboardTelemetry.LogsOfTraceAsync(stack.Dashboard, trace, cancellationToken))
                .Where(log => log.SeverityNumber >= 13) // OpenTelemetry's WARN and above
                .Select(log => "  " + log.Describe()));
        }

        return $"Warnings in the {traces.Count} refused traces:{Environment.NewLine}" +
            (lines.Count == 0 ? "  (none)" : string.Join(Environment.NewLine, lines.Distinct()));
    }

    [Fact]
    public async Task A_job_that_keeps_failing_ends_in_jobs_dead_with_its_last_error_reads_failed_and_an_operator_requeues_it()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var client = ClientFor($"poison-{Guid.NewGuid():N}");
        using var store = await DashboardTelemetry.OpenMetricStoreAsync(stack);
        var deadLetteredBefore = DashboardTelemetry.Read(store, "worker", "jobs.dead_lettered");
        await stack.StopResourceAsync("python-inference", timeout.Token);
        List<JsonElement> jobs = [];
        try
        {
            foreach (var key in new[] { "poison", "poison-2" })
            {
                var id = await SubmitAsync(client, key, new { model = "sentiment", inputs = new[] { "never classified" } }, timeout.Token);
                jobs.Add(await WaitUntilFinishedAsync(client, id, timeout.Token));
            }
        }
        finally
        {
            await stack.StartResourceAsync("python-inference", timeout.Token);
        }

        var job = jobs[0];
        Assert.All(jobs, failed => Assert.Equal("failed", failed.GetProperty("status").GetString()));
        Assert.Equal(TestSettings.MaxAttempts, job.GetProperty("attempts").GetInt32());
        Assert.Equal("upstream_unavailable", job.GetProperty("error").GetProperty("code").GetString());

        var dead = await FindDeadLetterAsync(job.GetProperty("id").GetGuid(), timeout.Token);
        Assert.Equal(TestSettings.MaxAttempts, Convert.ToInt32(dead.Headers!["x-attempt"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("python-inference", System.Text.Encoding.UTF8.GetString((byte[])dead.Headers["x-last-error"]!), StringComparison.Ordinal);
        var deadLettered = await DashboardTelemetry.WaitForGrowthAsync(
            () => DashboardTelemetry.Read(store, "worker", "jobs.dead_lettered") is { } now && now.Value >= deadLetteredBefore.Value + 2
                ? now : deadLetteredBefore,
            deadLetteredBefore, "jobs.dead_lettered to count both jobs");
        Assert.Equal("{job}", deadLettered.Unit);

        // An operator sees both in the dead-letter queue, requeues one through the gateway's admin API and replays
        // the rest from the dashboard; python-inference is back, so both succeed, and the audit log names who did it.
        var (first, second) = (jobs[0].GetProperty("id").GetGuid(), jobs[1].GetProperty("id").GetGuid());
        using var operatorClient = stack.CreateGatewayClient(stack.Tokens.Create(subject: "operator-alice", scopes: "admin"));
        var listed = (await operatorClient.GetFromJsonAsync<JsonElement>("/api/v1/admin/dead-jobs?limit=500", timeout.Token))
            .GetProperty("items").EnumerateArray().ToList();
        var entry = Assert.Single(listed, item => item.GetProperty("jobId").GetString() == first.ToString());
        Assert.Equal(TestSettings.MaxAttempts, entry.GetProperty("attempts").GetInt32());
        Assert.Equal("failed", entry.GetProperty("status").GetString());
        Assert.Contains(listed, item => item.GetProperty("jobId").GetString() == second.ToString());

        using var requeued = await operatorClient.PostAsync($"/api/v1/admin/dead-jobs/{first}/requeue", JsonContent.Create(new { }), timeout.Token);
        requeued.EnsureSuccessStatusCode();
        Assert.Equal(first, (await requeued.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("requeued").EnumerateArray().Single().GetGuid());
        var replayed = await stack.App.Services.GetRequiredService<ResourceCommandService>()
            .ExecuteCommandAsync(stack.ReplicasOf("worker")[0], "replay-dead-letters", timeout.Token);
        Assert.True(replayed.Success, replayed.Message);
        Assert.Contains("back on the queue", replayed.Message, StringComparison.Ordinal);

        foreach (var (id, actor) in new[] { (first, "operator-alice"), (second, "dashboard") })
        {
            var done = await WaitUntilFinishedAsync(client, id, timeout.Token);
            Assert.Equal("succeeded", done.GetProperty("status").GetString());
            Assert.Equal(1, done.GetProperty("attempts").GetInt32());
            // The operator reads the job's audit trail through the gateway, the only public entrance. job.completed
            // reaches the log through the events exchange, after the job reads succeeded: wait for it.
            List<JsonElement> trail;
            while (!(trail = (await operatorClient.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit/jobs/{id}", timeout.Token))
                       .EnumerateArray().ToList()).Any(record => record.GetProperty("type").GetString() == "job.completed"))
            {
                await Task.Delay(100, timeout.Token);
            }

            Assert.All(trail, record => Assert.Equal(id.ToString(), record.GetProperty("jobId").GetString()));
            var audit = Assert.Single(trail, e => e.GetProperty("type").GetString() == "admin.job.requeued");
            // The actor is the authenticated caller: the admin the gateway's token named, or the dashboard's own token.
            Assert.EndsWith(actor, audit.GetProperty("data").GetProperty("actor").GetString(), StringComparison.Ordinal);
            Assert.Equal(actor == "dashboard" ? "dashboard" : "gateway", audit.GetProperty("data").GetProperty("service").GetString());
        }

        // No longer dead: requeueing it again is a 404 problem.
        using var again = await operatorClient.PostAsync($"/api/v1/admin/dead-jobs/{first}/requeue", JsonContent.Create(new { }), timeout.Token);
        await Problems.AssertProblemAsync(again, HttpStatusCode.NotFound, "job_not_found");
    }

    [Fact]
    public async Task Paused_consumption_holds_new_jobs_in_the_queue_on_every_replica_until_resumed_and_both_are_audited()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var client = ClientFor($"paused-{Guid.NewGuid():N}");
        using var operatorClient = stack.CreateGatewayClient(stack.Tokens.Create(subject: "operator-bob", scopes: "admin"));
        var commands = stack.App.Services.GetRequiredService<ResourceCommandService>();
        Guid id;
        using (var paused = await operatorClient.PostAsync("/api/v1/admin/consumption/pause", JsonContent.Create(new { }), timeout.Token))
        {
            paused.EnsureSuccessStatusCode();
            Assert.True((await paused.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("paused").GetBoolean());
        }

        try
        {
            // The other replica follows the shared switch within a second.
            await Task.Delay(TimeSpan.FromSeconds(2.5), timeout.Token);
            id = await SubmitAsync(client, "paused", new { model = "sentiment", inputs = new[] { "waits its turn" } }, timeout.Token);
            await Task.Delay(TimeSpan.FromSeconds(3), timeout.Token);
            Assert.Equal("queued", (await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}", timeout.Token)).GetProperty("status").GetString());
            Assert.Equal(0u, await JobsQueueConsumersAsync(timeout.Token));
        }
        finally
        {
            var resumed = await commands.ExecuteCommandAsync(stack.ReplicasOf("worker")[0], "resume-jobs", timeout.Token);
            Assert.True(resumed.Success, resumed.Message);
        }

        Assert.Equal("succeeded", (await WaitUntilFinishedAsync(client, id, timeout.Token)).GetProperty("status").GetString());
        // The replica that took the command resumed at once; the other follows the shared switch within a second.
        using (var following = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token))
        {
            following.CancelAfter(TimeSpan.FromSeconds(15));
            while (await JobsQueueConsumersAsync(following.Token) < stack.WorkerReplicas)
            {
                await Task.Delay(200, following.Token);
            }
        }

        // Both changes are in the audit log, read through the gateway's admin API, each under who made it.
        foreach (var (type, actor) in new[] { ("admin.consumption.paused", "operator-bob"), ("admin.consumption.resumed", "dashboard") })
        {
            var records = (await operatorClient.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit/events?type={type}&limit=5",
                timeout.Token)).EnumerateArray().ToList();
            Assert.InRange(records.Count, 1, 5);
            Assert.All(records, record => Assert.Equal(type, record.GetProperty("type").GetString()));
            Assert.EndsWith(actor, records[^1].GetProperty("data").GetProperty("actor").GetString(), StringComparison.Ordinal);
        }

        // A type is required, and the log is for admins only.
        using (var untyped = await operatorClient.GetAsync("/api/v1/admin/audit/events", timeout.Token))
        {
            await Problems.AssertProblemAsync(untyped, HttpStatusCode.BadRequest, "validation_failed");
        }

        using var jobsOnly = stack.CreateGatewayClient(stack.Tokens.Create(subject: "not-an-operator", scopes: "jobs"));
        using var refused = await jobsOnly.GetAsync("/api/v1/admin/audit/events?type=admin.consumption.paused", timeout.Token);
        await Problems.AssertProblemAsync(refused, HttpStatusCode.Forbidden, "insufficient_scope");
    }

    private async Task<uint> JobsQueueConsumersAsync(CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = new Uri((await stack.App.GetConnectionStringAsync("messaging", cancellationToken))!) };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return (await channel.QueueDeclarePassiveAsync("jobs", cancellationToken)).ConsumerCount;
    }

    internal static async Task<JsonElement> WaitUntilFinishedAsync(HttpClient client, Guid id, CancellationToken cancellationToken)
    {
        JsonElement job;
        do
        {
            await Task.Delay(200, cancellationToken);
            job = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}", cancellationToken);
        }
        while (job.GetProperty("status").GetString() is "queued" or "running");
        return job;
    }

    private async Task<IReadOnlyBasicProperties> FindDeadLetterAsync(Guid jobId, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = new Uri((await stack.App.GetConnectionStringAsync("messaging", cancellationToken))!) };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        while (true)
        {
            // Not acknowledged: closing the channel puts every inspected message back.
            var message = await channel.BasicGetAsync("jobs.dead", autoAck: false, cancellationToken);
            Assert.True(message is not null, $"job {jobId} is not in jobs.dead");
            if (message.BasicProperties.MessageId == jobId.ToString())
            {
                return message.BasicProperties;
            }
        }
    }

    [Fact]
    public async Task One_job_completed_event_reaches_the_audit_the_webhook_and_pythons_analytics()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var client = ClientFor($"events-{Guid.NewGuid():N}");
        // Deliveries are signed with their owner's key, which the owner fetches through the gateway.
        await using var receiver = await WebhookReceiver.StartAsync(await SigningKeys.ForOwnerAsync(client, timeout.Token), timeout.Token);
        using var python = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http") };
        using var worker = await stack.AuditReaderAsync();
        var before = await CompletedJobsSeenByPythonAsync(python, timeout.Token);

        var id = await SubmitAsync(client, "events", new
        {
            model = "sentiment",
            inputs = new[] { "Wonderful staff and a spotless room." },
            callbackUrl = receiver.Url.ToString(),
        }, timeout.Token);

        var delivery = await receiver.WaitForAsync(d => d.Body.GetProperty("job").GetProperty("id").GetGuid() == id, timeout.Token);
        Assert.True(delivery.SignatureValid, "the webhook's signature does not verify");
        Assert.Equal("job.completed", delivery.Body.GetProperty("type").GetString());
        Assert.Equal("positive", delivery.Body.GetProperty("job").GetProperty("result").GetProperty("predictions")[0].GetProperty("label").GetString());

        List<JsonElement> trail;
        do
        {
            await Task.Delay(100, timeout.Token);
            trail = await AuditTrailAsync(worker, id, timeout.Token);
        }
        while (!trail.Any(e => e.GetProperty("type").GetString() == "webhook.delivered"));
        var completed = Assert.Single(trail, e => e.GetProperty("type").GetString() == "job.completed");
        Assert.Equal(delivery.Id, completed.GetProperty("eventId").GetString());

        while (await CompletedJobsSeenByPythonAsync(python, timeout.Token) < before + 1)
        {
            await Task.Delay(100, timeout.Token);
        }
    }

    [Fact]
    public async Task Jobs_finished_together_reach_the_audit_their_webhooks_and_pythons_analytics_each_once()
    {
        // Submitted at once, they finish in few job batches, and each batch's outcomes travel as one message per
        // routing key (with and without a callback): every consumer must still see every event once.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var client = ClientFor($"burst-{Guid.NewGuid():N}");
        await using var receiver = await WebhookReceiver.StartAsync(await SigningKeys.ForOwnerAsync(client, timeout.Token), timeout.Token);
        using var python = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http") };
        using var worker = await stack.AuditReaderAsync();
        var before = await CompletedJobsSeenByPythonAsync(python, timeout.Token);

        var ids = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => SubmitAsync(client, $"burst-{i}", new
        {
            model = "sentiment",
            inputs = new[] { $"Burst review {i}: lovely." },
            callbackUrl = i % 4 == 0 ? receiver.Url.ToString() : null,
        }, timeout.Token)));

        var withCallback = ids.Where((_, i) => i % 4 == 0).ToHashSet();
        while (receiver.Deliveries.Select(d => d.Body.GetProperty("job").GetProperty("id").GetGuid()).Distinct().Count() < withCallback.Count)
        {
            await Task.Delay(100, timeout.Token);
        }

        Assert.All(receiver.Deliveries, d => Assert.True(d.SignatureValid));
        Assert.Equal(withCallback.Order(), receiver.Deliveries.Select(d => d.Body.GetProperty("job").GetProperty("id").GetGuid()).Order());
        foreach (var id in ids)
        {
            List<JsonElement> trail;
            while (!(trail = await AuditTrailAsync(worker, id, timeout.Token)).Any(e => e.GetProperty("type").GetString() == "job.completed"))
            {
                await Task.Delay(100, timeout.Token);
            }

            Assert.Single(trail, e => e.GetProperty("type").GetString() == "job.completed");
        }

        // Other tests complete sentiment jobs on the same stack meanwhile: at least these 40 are counted.
        while (await CompletedJobsSeenByPythonAsync(python, timeout.Token) < before + ids.Length)
        {
            await Task.Delay(100, timeout.Token);
        }
    }

    internal static async Task<int> CompletedJobsSeenByPythonAsync(HttpClient python, CancellationToken cancellationToken)
    {
        var stats = await python.GetFromJsonAsync<JsonElement>("/v1/stats", cancellationToken);
        return stats.GetProperty("models").TryGetProperty("sentiment", out var sentiment)
            ? sentiment.GetProperty("jobs_completed").GetInt32()
            : 0;
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://10.1.2.3/hook")]
    [InlineData("http://192.168.0.10:8080/hook")]
    [InlineData("ftp://example.com/hook")]
    public async Task A_callback_url_on_a_private_network_is_refused_at_submission(string callbackUrl)
    {
        using var client = ClientFor("callbacks");

        var response = await client.PostAsJsonAsync("/api/v1/jobs",
            new { model = "sentiment", inputs = new[] { "fine" }, callbackUrl }, TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("callbackUrl", out _));
    }
}
