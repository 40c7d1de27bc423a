using Aspire.Hosting.Testing;

namespace AppHost.Tests;

/// <summary>The jobs path end to end on PostgreSQL.</summary>
[Collection(nameof(PostgresCollection))]
public sealed class JobTestsOnPostgres(PostgresStackFixture stack) : JobTests(stack);

/// <summary>The model registry end to end on PostgreSQL.</summary>
[Collection(nameof(PostgresCollection))]
public sealed class RegistryTestsOnPostgres(PostgresStackFixture stack) : RegistryTests(stack);

/// <summary>
/// Three Worker replicas cooperating through one PostgreSQL database, and surviving kills and a broker restart. (The
/// broker restart ran on the SQLite stack, among its outage tests, one at a time; here it shortens the suite's longest
/// path, and it restarts the broker under the store production uses.)
/// </summary>
[Collection(nameof(PostgresCollection))]
public sealed class PostgresReplicaTests(PostgresStackFixture stack)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Three_worker_replicas_process_jobs_once_and_each_reads_every_job_from_the_shared_database()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        var subject = $"replicas-{Guid.NewGuid():N}";
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: subject));
        var replicas = stack.ReplicasOf("worker");
        Assert.Equal(3, replicas.Count);
        foreach (var replica in replicas)
        {
            await stack.EnsureServingAsync(replica, timeout.Token);
        }

        var ids = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        await Parallel.ForAsync(0, 90, new ParallelOptions { MaxDegreeOfParallelism = 9, CancellationToken = timeout.Token },
            async (i, ct) => ids.Add(await MessagingTests.SubmitAsync(client, $"replica-job-{i}",
                new { model = "sentiment", inputs = new[] { $"Review {i}: simply wonderful." } }, ct)));
        await MessagingTests.WaitUntilAllFinishedAsync(client, 90, timeout.Token);

        var all = await MessagingTests.ListAllAsync(client, null, timeout.Token);
        Assert.Equal(90, all.Count);
        Assert.All(all, job => Assert.Equal("succeeded", job.GetProperty("status").GetString()));
        // Every replica, asked at its own address, sees every job and the same status: state lives in the database.
        foreach (var replica in replicas)
        {
            using var own = stack.WorkerClient(await stack.ForGatewayAsync(Tokens.OwnerOf(subject), "jobs"), stack.OwnAddressOf(replica));
            foreach (var id in ids.Take(30))
            {
                var job = await own.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}", timeout.Token);
                Assert.Equal("succeeded", job.GetProperty("status").GetString());
            }
        }

        // Each job's outcome was announced once, whichever replica recorded it and whichever relays ran.
        using var worker = await stack.AuditReaderAsync();
        foreach (var id in ids)
        {
            List<JsonElement> trail;
            do
            {
                trail = await MessagingTests.AuditTrailAsync(worker, id, timeout.Token);
            }
            while (!trail.Any(e => e.GetProperty("type").GetString() == "job.completed") && await Delay(timeout.Token));

            Assert.Equal(1, trail.Count(e => e.GetProperty("type").GetString() == "job.completed"));
        }
    }

    [Fact]
    public async Task Pythons_stats_are_the_counts_in_the_shared_analytics_database()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var python = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http") };
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"stats-{Guid.NewGuid():N}"));
        var before = await MessagingTests.CompletedJobsSeenByPythonAsync(python, timeout.Token);

        await MessagingTests.SubmitAsync(client, "stats", new { model = "sentiment", inputs = new[] { "Lovely." } }, timeout.Token);
        int seen;
        while ((seen = await MessagingTests.CompletedJobsSeenByPythonAsync(python, timeout.Token)) < before + 1)
        {
            await Task.Delay(100, timeout.Token);
        }

        // What /v1/stats says is what analyticsdb holds: any python-inference replica reads the same rows. (The
        // counter only grows, so the stored value lies between the answers before and after reading it.)
        await using var connection = new Npgsql.NpgsqlConnection(await stack.App.GetConnectionStringAsync("analyticsdb", timeout.Token));
        await connection.OpenAsync(timeout.Token);
        await using var query = new Npgsql.NpgsqlCommand(
            "SELECT count FROM model_counts WHERE model = 'sentiment' AND metric = 'jobs_completed'", connection);
        var stored = Convert.ToInt32(await query.ExecuteScalarAsync(timeout.Token), System.Globalization.CultureInfo.InvariantCulture);
        var after = await MessagingTests.CompletedJobsSeenByPythonAsync(python, timeout.Token);
        Assert.InRange(stored, seen, after);
    }

    [Fact]
    public async Task Jobs_accepted_around_a_broker_restart_all_complete_and_the_outage_gives_503_not_a_false_202()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"broker-restart-{Guid.NewGuid():N}"));
        var accepted = new List<Guid>();
        var refused = 0;

        async Task SubmitOnceAsync(int i)
        {
            var started = DateTime.UtcNow;
            var response = await client.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs = new[] { $"Fine {i}" } }, timeout.Token);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "a submission during the outage hung");
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.Add((await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("id").GetGuid());
            }
            else
            {
                await Problems.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "broker_unavailable");
                refused++;
            }
        }

        for (var i = 0; i < 20; i++)
        {
            await SubmitOnceAsync(i);
        }

        await stack.StopResourceAsync("messaging", timeout.Token);
        for (var i = 20; i < 25; i++)
        {
            await SubmitOnceAsync(i);
        }

        await stack.StartResourceAsync("messaging", timeout.Token);
        for (var i = 25; i < 45; i++)
        {
            await SubmitOnceAsync(i); // the first ones may still meet a Worker that is reconnecting
            await Task.Delay(100, timeout.Token);
        }

        Assert.True(refused >= 5, $"only {refused} submissions were refused while the broker was down");
        await MessagingTests.WaitUntilAllFinishedAsync(client, accepted.Count, timeout.Token);
        var jobs = await MessagingTests.ListAllAsync(client, null, timeout.Token);
        Assert.Equal(accepted.Order(), jobs.Select(j => j.GetProperty("id").GetGuid()).Order());
        Assert.All(jobs, job => Assert.Equal("succeeded", job.GetProperty("status").GetString()));
    }

    [Fact]
    public Task A_thousand_jobs_survive_worker_kills_on_postgres() => MessagingTests.ThousandJobsSurviveWorkerKillsAsync(stack);

    [Fact]
    public async Task A_job_accepted_while_python_inference_is_down_completes_on_its_first_attempt_soon_after_its_return()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var client = stack.CreateGatewayClient(stack.Tokens.Create(subject: $"outage-{Guid.NewGuid():N}"));
        await stack.StopResourceAsync("python-inference", timeout.Token);
        Guid id;
        try
        {
            id = await MessagingTests.SubmitAsync(client, "outage-job", new { model = "sentiment", inputs = new[] { "Back soon." } },
                timeout.Token);
            // Well past this stack's whole retry schedule (4 attempts, 200/400/800 ms apart): spending attempts on the
            // outage, the job would have failed by now.
            await Task.Delay(TimeSpan.FromSeconds(6), timeout.Token);
            var waiting = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}", timeout.Token);
            Assert.Contains(waiting.GetProperty("status").GetString(), new[] { "queued", "running" });
            Assert.Equal(1, waiting.GetProperty("attempts").GetInt32());
        }
        finally
        {
            await stack.StartResourceAsync("python-inference", timeout.Token);
        }

        var back = DateTime.UtcNow;
        var job = await MessagingTests.WaitUntilFinishedAsync(client, id, timeout.Token);
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        // It waited for python-inference (called again every 500 ms), not for a retry's back-off.
        Assert.True(DateTime.UtcNow - back < TimeSpan.FromSeconds(10), $"finished {DateTime.UtcNow - back} after python-inference was healthy");
    }

    private static async Task<bool> Delay(CancellationToken cancellationToken)
    {
        await Task.Delay(200, cancellationToken);
        return true;
    }
}
