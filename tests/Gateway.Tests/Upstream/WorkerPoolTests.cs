using System.Net.Http.Json;
using System.Text;
using Gateway.Application;
using Gateway.Upstream;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Upstream;

/// <summary>
/// The gateway's calls to the Worker pool through the real clients and resilience pipeline, with a scripted network
/// underneath: which failures are retried, and that a retried submission repeats its idempotency key.
/// </summary>
public sealed class WorkerPoolTests
{
    private static readonly Uri Worker = new("http://worker.test");

    private const string TokenKey = "worker-pool-tests-token-key-0123456789";

    /// <summary>Answers each attempt with the next step of its script and records what each attempt sent.</summary>
    private sealed class ScriptedWorker(params Func<HttpResponseMessage>[] script) : HttpMessageHandler
    {
        public List<(HttpMethod Method, string Path, JsonElement? Body)> Attempts { get; } = [];

        public List<HttpRequestMessage> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            // Read as the network handler reads it (CopyTo serializes the content again for every attempt).
            JsonElement? body = null;
            if (request.Content is not null)
            {
                using var sent = new MemoryStream();
                await request.Content.CopyToAsync(sent, cancellationToken);
                body = JsonSerializer.Deserialize<JsonElement>(sent.ToArray());
            }

            Attempts.Add((request.Method, request.RequestUri!.AbsolutePath, body));
            Requests.Add(request);
            return script[Math.Min(Attempts.Count, script.Length) - 1]();
        }
    }

    private static HttpResponseMessage ReplicaDied() =>
        throw new HttpRequestException("An error occurred while sending the request.", new IOException("The response ended prematurely."));

    private static HttpResponseMessage Created() => new(HttpStatusCode.Created)
    {
        Content = JsonContent.Create(new { id = Guid.CreateVersion7(), model = "sentiment", status = "queued", attempts = 0,
            createdAt = DateTimeOffset.UtcNow, updatedAt = DateTimeOffset.UtcNow }),
    };

    /// <summary>An answer whose headers arrived and whose body broke off after a few bytes: the replica died sending it.</summary>
    private static HttpResponseMessage DiedWhileAnswering() => new(HttpStatusCode.Created)
    {
        Content = new StreamContent(new BrokenOffStream("{\"results\":[{\"status\":201,"u8.ToArray()))
        {
            Headers = { ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") },
        },
    };

    private static HttpResponseMessage BrokerUnavailable() => new(HttpStatusCode.ServiceUnavailable)
    {
        Content = new StringContent("""{"type":"about:blank","title":"The job queue is unavailable.","status":503,"code":"broker_unavailable"}""",
            Encoding.UTF8, "application/problem+json"),
    };

    private static HttpResponseMessage Activated() => new(HttpStatusCode.OK)
    {
        Content = JsonContent.Create(new { name = "sentiment", version = "2.0.0", inputKind = "text", labels = new[] { "negative", "positive" },
            metrics = new Dictionary<string, double>(), artifactSha256 = "00", description = "", createdAt = DateTimeOffset.UtcNow,
            registeredAt = DateTimeOffset.UtcNow, active = true }),
    };

    private static ServiceProvider Services(ScriptedWorker worker, int maxRetryAttempts = 3)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddOptions<WorkerCallOptions>().Configure(o => (o.MaxRetryAttempts, o.RetryBaseDelay) = (maxRetryAttempts, TimeSpan.Zero));
        services.AddOptions<WorkerTokenOptions>().Configure(o => o.SigningKey = TokenKey);
        services.AddSingleton(TimeProvider.System).AddSingleton<WorkerTokens>();
        services.AddOptions<JobsOptions>();
        services.AddSingleton<JobSubmissionCoalescer>();
        services.AddHttpClient<IJobsClient, HttpJobsClient>(http => http.BaseAddress = Worker)
            .AddWorkerPoolResilience().ConfigurePrimaryHttpMessageHandler(() => worker);
        services.AddHttpClient<IRegistryClient, HttpRegistryClient>(http => http.BaseAddress = Worker)
            .AddWorkerPoolResilience().ConfigurePrimaryHttpMessageHandler(() => worker);
        services.AddHttpClient<IAdminClient, HttpAdminClient>(http => http.BaseAddress = Worker)
            .AddWorkerPoolResilience().ConfigurePrimaryHttpMessageHandler(() => worker);
        return services.BuildServiceProvider();
    }

    private static Task<Outcome<JobView>> SubmitAsync(IServiceProvider services, string? idempotencyKey) =>
        services.GetRequiredService<IJobsClient>().SubmitAsync(
            new JobSubmission("sentiment", [JsonSerializer.SerializeToElement("fine")]), "alice", idempotencyKey,
            TestContext.Current.CancellationToken);

    private static string? KeyOf((HttpMethod, string, JsonElement? Body) attempt) =>
        attempt.Body!.Value.GetProperty("idempotencyKey").GetString();

    [Fact]
    public async Task A_submission_whose_replica_died_is_retried_with_the_same_key_and_accepted()
    {
        var worker = new ScriptedWorker(ReplicaDied, Created);
        await using var services = Services(worker);

        var result = await SubmitAsync(services, idempotencyKey: null);

        Assert.NotNull(result.Value);
        Assert.Equal(2, worker.Attempts.Count);
        var key = KeyOf(worker.Attempts[0]);
        Assert.StartsWith(HttpJobsClient.GatewayKeyPrefix, key, StringComparison.Ordinal);
        Assert.Equal(key, KeyOf(worker.Attempts[1]));
    }

    [Fact]
    public async Task The_clients_own_key_is_the_one_repeated()
    {
        var worker = new ScriptedWorker(ReplicaDied, Created);
        await using var services = Services(worker);

        await SubmitAsync(services, "order-7");

        Assert.All(worker.Attempts, attempt => Assert.Equal("order-7", KeyOf(attempt)));
    }

    [Fact]
    public async Task Each_submission_without_a_key_gets_its_own()
    {
        var worker = new ScriptedWorker(Created);
        await using var services = Services(worker);

        await SubmitAsync(services, null);
        await SubmitAsync(services, null);

        Assert.NotEqual(KeyOf(worker.Attempts[0]), KeyOf(worker.Attempts[1]));
    }

    [Fact]
    public async Task An_answer_from_the_worker_is_final_even_503()
    {
        var worker = new ScriptedWorker(BrokerUnavailable, Created);
        await using var services = Services(worker);

        var result = await SubmitAsync(services, null);

        Assert.Single(worker.Attempts);
        Assert.Equal("broker_unavailable", result.Problem?.Extensions["code"]?.ToString());
    }

    private static HttpResponseMessage BatchAnswered() => new(HttpStatusCode.OK)
    {
        Content = new StringContent($$$"""
            {"results":[
              {"status":201,"job":{"id":"{{{Guid.CreateVersion7()}}}","model":"sentiment","status":"queued","attempts":0,
                "createdAt":"2026-12-03T10:00:00Z","updatedAt":"2026-12-03T10:00:00Z"}},
              {"status":503,"problem":{"type":"about:blank","title":"The job queue is full.","status":503,"code":"queue_full",
                "retryAfter":5,"traceId":"00-worker-trace"}},
              {"status":500,"problem":{"type":"about:blank","title":"Boom with internals.","status":500,"code":"internal"}}
            ]}
            """, Encoding.UTF8, "application/json"),
    };

    private static IReadOnlyList<JobSubmissionRequest> ThreeRequests() =>
    [
        .. Enumerable.Range(0, 3).Select(i => new JobSubmissionRequest(
            new JobSubmission("sentiment", [JsonSerializer.SerializeToElement($"text {i}")]), $"key-{i}", default)),
    ];

    [Fact]
    public async Task Each_submission_of_a_batch_gets_its_own_answer_passed_on_as_a_lone_answer_would_be()
    {
        var worker = new ScriptedWorker(BatchAnswered);
        await using var services = Services(worker);
        var sender = (IJobSubmissionSender)services.GetRequiredService<IJobsClient>();

        var outcomes = await sender.SendManyAsync(ThreeRequests(), "alice", TestContext.Current.CancellationToken);

        var attempt = Assert.Single(worker.Attempts);
        Assert.Equal("/v1/jobs/batch", attempt.Path);
        Assert.Equal(["key-0", "key-1", "key-2"],
            attempt.Body!.Value.GetProperty("jobs").EnumerateArray().Select(job => job.GetProperty("idempotencyKey").GetString()));
        Assert.NotNull(outcomes[0].Value);
        Assert.Equal((503, "queue_full"), (outcomes[1].Problem?.Status, outcomes[1].Problem?.Extensions["code"]?.ToString()));
        Assert.Equal(5, ServiceDefaults.Problems.ProblemDetailsContract.RetryAfterOf(outcomes[1].Problem!));
        Assert.False(outcomes[1].Problem!.Extensions.ContainsKey("traceId")); // the gateway's own is filled in on the way out
        Assert.Equal((502, "upstream_error"), (outcomes[2].Problem?.Status, outcomes[2].Problem?.Extensions["code"]?.ToString()));
        Assert.DoesNotContain("internals", outcomes[2].Problem?.Title, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_the_batch_call_itself_fails_every_submission_gets_its_own_copy_of_the_problem()
    {
        var worker = new ScriptedWorker(BrokerUnavailable);
        await using var services = Services(worker);
        var sender = (IJobSubmissionSender)services.GetRequiredService<IJobsClient>();

        var outcomes = await sender.SendManyAsync(ThreeRequests(), "alice", TestContext.Current.CancellationToken);

        Assert.All(outcomes, outcome => Assert.Equal("broker_unavailable", outcome.Problem?.Extensions["code"]?.ToString()));
        Assert.Equal(3, outcomes.Select(outcome => outcome.Problem).Distinct().Count());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task When_every_replica_is_gone_the_retries_end_in_503_upstream_unavailable(bool eachAnswerBrokeOffAfterItsHeaders)
    {
        var worker = new ScriptedWorker(eachAnswerBrokeOffAfterItsHeaders ? DiedWhileAnswering : ReplicaDied);
        await using var services = Services(worker, maxRetryAttempts: 2);

        var result = await SubmitAsync(services, null);

        Assert.Equal(3, worker.Attempts.Count);
        Assert.Equal(503, result.Problem?.Status);
        Assert.Equal("upstream_unavailable", result.Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task A_batch_whose_answer_broke_off_after_its_headers_is_retried_with_the_same_keys()
    {
        var worker = new ScriptedWorker(DiedWhileAnswering, BatchAnswered);
        await using var services = Services(worker);
        var sender = (IJobSubmissionSender)services.GetRequiredService<IJobsClient>();

        var outcomes = await sender.SendManyAsync(ThreeRequests(), "alice", TestContext.Current.CancellationToken);

        Assert.Equal(2, worker.Attempts.Count);
        Assert.All(worker.Attempts, attempt => Assert.Equal(["key-0", "key-1", "key-2"],
            attempt.Body!.Value.GetProperty("jobs").EnumerateArray().Select(job => job.GetProperty("idempotencyKey").GetString())));
        Assert.NotNull(outcomes[0].Value); // the second attempt's answers, each its own
        Assert.Equal("queue_full", outcomes[1].Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task A_failure_of_one_replica_does_not_open_a_breaker_for_the_pool()
    {
        // Half the attempts break, as when one replica of two is dead: far past the standard breaker's 10 %.
        var worker = new ScriptedWorker([.. Enumerable.Range(0, 200).Select(i => i % 2 == 0 ? (Func<HttpResponseMessage>)ReplicaDied : Created)]);
        await using var services = Services(worker, maxRetryAttempts: 1);

        for (var i = 0; i < 100; i++)
        {
            Assert.NotNull((await SubmitAsync(services, null)).Value);
        }
    }

    [Fact]
    public async Task An_activation_is_retried_like_a_read()
    {
        var worker = new ScriptedWorker(ReplicaDied, Activated);
        await using var services = Services(worker);

        var result = await services.GetRequiredService<IRegistryClient>()
            .ActivateAsync("sentiment", "2.0.0", "admin-alice", TestContext.Current.CancellationToken);

        Assert.Equal(2, worker.Attempts.Count);
        Assert.All(worker.Attempts, attempt => Assert.Equal(HttpMethod.Put, attempt.Method));
        Assert.Equal("2.0.0", result.Value?.Version);
    }

    private static Task<Microsoft.IdentityModel.Tokens.TokenValidationResult> ValidateAsync(HttpRequestMessage request)
    {
        Assert.Equal("Bearer", request.Headers.Authorization?.Scheme);
        return new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(
            request.Headers.Authorization!.Parameter, new Microsoft.IdentityModel.Tokens.TokenValidationParameters
            {
                ValidIssuer = "gateway",
                ValidAudience = "worker",
                ValidAlgorithms = ["HS256"],
                IssuerSigningKey = new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(Encoding.UTF8.GetBytes(TokenKey)),
            });
    }

    [Fact]
    public async Task Every_call_acts_for_the_user_in_a_signed_short_lived_token_and_never_in_the_url_or_body()
    {
        var worker = new ScriptedWorker(Created);
        await using var services = Services(worker);

        await SubmitAsync(services, idempotencyKey: null);

        var request = Assert.Single(worker.Requests);
        var validation = await ValidateAsync(request);
        Assert.True(validation.IsValid, validation.Exception?.Message);
        Assert.Equal("alice", validation.Claims["sub"]);
        Assert.Equal("jobs", validation.Claims["scope"]);
        var token = (Microsoft.IdentityModel.JsonWebTokens.JsonWebToken)validation.SecurityToken;
        Assert.InRange(token.ValidTo - token.IssuedAt, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
        Assert.Equal("", request.RequestUri!.Query);
        Assert.False(worker.Attempts[0].Body!.Value.TryGetProperty("owner", out _));
    }

    [Fact]
    public async Task Every_operator_call_acts_for_the_admin_with_the_admin_scope_and_names_no_actor_in_the_body()
    {
        static HttpResponseMessage Answer(object body) => new(HttpStatusCode.OK) { Content = JsonContent.Create(body) };
        var worker = new ScriptedWorker(
            () => Answer(new { items = Array.Empty<object>() }),
            () => Answer(new { requeued = Array.Empty<Guid>(), skipped = Array.Empty<string>() }),
            () => Answer(new { queue = "jobs", paused = false }),
            () => Answer(new { queue = "jobs", paused = true, changedBy = "https%3A%2F%2Fidp.test:admin-alice" }));
        await using var services = Services(worker);
        var admin = services.GetRequiredService<IAdminClient>();
        const string user = "https%3A%2F%2Fidp.test:admin-alice";

        Assert.NotNull((await admin.ListDeadJobsAsync(10, user, TestContext.Current.CancellationToken)).Value);
        Assert.NotNull((await admin.RequeueAsync(null, user, TestContext.Current.CancellationToken)).Value);
        Assert.NotNull((await admin.GetConsumptionAsync(user, TestContext.Current.CancellationToken)).Value);
        Assert.True((await admin.SetConsumptionAsync(true, user, TestContext.Current.CancellationToken)).Value?.Paused);

        Assert.Equal(["/v1/admin/dead-jobs", "/v1/admin/dead-jobs/requeue", "/v1/admin/consumption", "/v1/admin/consumption/pause"],
            worker.Attempts.Select(attempt => attempt.Path));
        foreach (var request in worker.Requests)
        {
            var validation = await ValidateAsync(request);
            Assert.True(validation.IsValid, validation.Exception?.Message);
            Assert.Equal(user, validation.Claims["sub"]);
            Assert.Equal("admin", validation.Claims["scope"]);
        }

        Assert.All(worker.Attempts, attempt => Assert.Null(attempt.Body)); // the Worker audits the token's user, nothing else
    }
}
