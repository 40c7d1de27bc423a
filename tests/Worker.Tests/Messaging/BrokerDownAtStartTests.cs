using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Worker.Inference;

namespace Worker.Tests.Messaging;

/// <summary>
/// The real Worker (its own HTTP API, SQLite store, outbox, consumers and health checks) started while its broker is
/// down, with python-inference replaced by a stand-in: it starts, reports itself unready, refuses submissions with a
/// 503 problem, reports itself ready once the broker is up and its consumers have declared their queues, and from
/// then on takes and processes jobs.
/// </summary>
public sealed class BrokerDownAtStartTests
{
    private static readonly TimeSpan BrokerBoot = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PromptAnswer = TimeSpan.FromSeconds(20);

    [Fact(Timeout = 300_000)] // a broker boot and the Worker's reconnection back-off, on a loaded machine
    public async Task A_worker_started_while_the_broker_is_down_serves_reports_unhealthy_and_processes_jobs_once_it_is_up()
    {
        var token = TestContext.Current.CancellationToken;
        await using var broker = LocalBroker.OnFreePort();
        var database = Path.Combine(Path.GetTempPath(), "worker-tests", Guid.NewGuid().ToString("N"));
        try
        {
            await using var worker = new WorkerFactory(broker.ConnectionString, Path.Combine(database, "jobs.db"));
            using var http = worker.CreateClient(); // starts the host: it must come up without its broker
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                Security.ServiceTokens.Gateway("tester", "jobs"));
            http.Timeout = TimeSpan.FromSeconds(60);

            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive", token)).StatusCode);
            // Unready, and saying so promptly: a readiness probe that hangs is no answer (the margin is for load).
            var asked = System.Diagnostics.Stopwatch.StartNew();
            var health = await http.GetAsync("/health", token);
            Assert.True(asked.Elapsed < PromptAnswer, $"/health took {asked.Elapsed.TotalSeconds:0} s to answer while the broker was down");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal("Unhealthy", await health.Content.ReadAsStringAsync(token));
            asked.Restart();
            var refused = await SubmitAsync(http, "while the broker is down", token);
            Assert.True(asked.Elapsed < PromptAnswer, $"a submission took {asked.Elapsed.TotalSeconds:0} s to be refused while the broker was down");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("broker_unavailable",
                (await refused.Content.ReadFromJsonAsync<JsonElement>(token)).GetProperty("code").GetString());

            await broker.StartAsync(BrokerBoot, token);

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(Recovery);
            string last = "";
            try
            {
                while ((await http.GetAsync("/health", deadline.Token)) is { StatusCode: not HttpStatusCode.OK } unready)
                {
                    last = $"health {(int)unready.StatusCode}";
                    await Task.Delay(200, deadline.Token);
                }

                // Ready means ready: the first submission after /health says so is taken. (Readiness once only the
                // broker answered let this one be refused while the jobs consumer's back-off had yet to declare the
                // jobs queue: the message came back unroutable.)
                var accepted = await SubmitAsync(http, "once the broker is up", deadline.Token);
                Assert.True(accepted.StatusCode == HttpStatusCode.Created,
                    $"the first submission after /health answered OK got {(int)accepted.StatusCode}: {await accepted.Content.ReadAsStringAsync(deadline.Token)}");

                var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(deadline.Token)).GetProperty("id").GetGuid();
                JsonElement job;
                do
                {
                    await Task.Delay(100, deadline.Token);
                    job = await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}", deadline.Token);
                    last = $"job {job.GetProperty("status")}";
                }
                while (job.GetProperty("status").GetString() is "queued" or "running");

                Assert.Equal("succeeded", job.GetProperty("status").GetString());
                Assert.Equal("positive", job.GetProperty("result").GetProperty("predictions")[0].GetProperty("label").GetString());
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                Assert.Fail($"the Worker did not recover within {Recovery.TotalSeconds} s of the broker starting; last: {last}");
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(database))
            {
                Directory.Delete(database, recursive: true);
            }
        }
    }

    private static Task<HttpResponseMessage> SubmitAsync(HttpClient http, string text, CancellationToken cancellationToken) =>
        http.PostAsJsonAsync("/v1/jobs", new { model = "sentiment", inputs = new[] { text } }, cancellationToken);

    private sealed class WorkerFactory(string messaging, string databasePath) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("ConnectionStrings:messaging", messaging);
            builder.UseSetting("Jobs:DatabasePath", databasePath);
            builder.UseSetting("Webhooks:SigningSecret", "broker-down-tests-secret-0123456789");
            foreach (var (key, value) in Security.ServiceTokens.WorkerSettings)
            {
                builder.UseSetting(key, value);
            }
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<IInferenceClient>();
                services.AddSingleton<IInferenceClient, PositiveInference>();
            });
        }
    }

    /// <summary>python-inference's answer to any one input: positive.</summary>
    private sealed class PositiveInference : IInferenceClient
    {
        public Task<InferenceOutcome> PredictAsync(string model, JsonElement inputs, CancellationToken cancellationToken) =>
            Task.FromResult<InferenceOutcome>(new InferenceOutcome.Succeeded(JsonSerializer.SerializeToElement(new
            {
                model,
                version = "test",
                predictions = inputs.EnumerateArray().Select(_ => new { label = "positive", score = 0.9 }),
            })));
    }
}
