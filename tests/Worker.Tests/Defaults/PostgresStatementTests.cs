using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Tests.Postgres;

namespace Worker.Tests.Defaults;

/// <summary>
/// How the Worker's PostgreSQL data source is set up (docs/performance.md, "PostgreSQL's jobs profile"): a statement is a
/// span only inside a trace, so the migrations, batches, relay and sweeper (outside any request) leave no one-span
/// traces, nor do physical connection opens, while a request's statements are children of its span; pooled
/// connections are not reset with DISCARD ALL.
/// </summary>
public sealed class PostgresStatementTests
{
    [Fact(Timeout = 120_000)]
    public async Task Statements_are_spans_only_inside_a_trace_and_pooled_connections_are_not_reset()
    {
        var token = TestContext.Current.CancellationToken;
        var server = await PostgresTestServer.SharedAsync();
        const string database = "statement_tracing";
        var statements = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            // Other tests of this process use the same server: only this Worker's database counts.
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("db.namespace") is string name && name.StartsWith(database, StringComparison.Ordinal))
                {
                    statements.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        await using var worker = new WorkerFactory(await server.CreateDatabaseAsync(database));
        using var http = worker.CreateClient(); // starts the host: the migrations run outside any trace
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
            Security.ServiceTokens.Gateway("tracing", "jobs"));
        var page = await http.GetFromJsonAsync<JsonElement>("/v1/jobs", token);
        Assert.Equal(0, page.GetProperty("items").GetArrayLength());

        var spans = statements.ToList();
        Assert.NotEmpty(spans); // the list's query, in the request's trace
        Assert.All(spans, span => Assert.NotEqual(default, span.ParentSpanId));
        var dataSource = worker.Services.GetRequiredService<NpgsqlDataSource>();
        Assert.True(new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).NoResetOnClose);
    }

    private sealed class WorkerFactory(string database) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("Database:Provider", "postgres");
            builder.UseSetting("ConnectionStrings:workerdb", database);
            // No broker: the consumers keep retrying in the background.
            builder.UseSetting("ConnectionStrings:messaging", "amqp://guest:guest@127.0.0.1:1/");
            builder.UseSetting("Webhooks:SigningSecret", "statement-tracing-tests-secret-0123456789");
            foreach (var (key, value) in Security.ServiceTokens.WorkerSettings)
            {
                builder.UseSetting(key, value);
            }
        }
    }
}
