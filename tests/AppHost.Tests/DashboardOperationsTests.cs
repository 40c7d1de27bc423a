using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace AppHost.Tests;

/// <summary>
/// What an operator reaches from the dashboard: each service's own pages as resource links, and commands that ask
/// for confirmation, act through the Worker's operator API and are audited. Switches the served model version, so it
/// runs with the other tests that do (<see cref="ModelActivationTests"/>).
/// </summary>
[Collection(nameof(OutageTests))]
public sealed class DashboardOperationsTests(AppHostFixture stack)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    private ResourceCommandService Commands => stack.App.Services.GetRequiredService<ResourceCommandService>();

    [Fact]
    public async Task The_resources_link_to_the_api_reference_the_openapi_document_fastapis_docs_and_the_management_ui()
    {
        async Task<IReadOnlyList<string>> UrlsOf(string resource) =>
            [.. (await stack.App.ResourceNotifications.WaitForResourceAsync(resource,
                    e => e.Snapshot.Urls.Length > 1, TestContext.Current.CancellationToken))
                .Snapshot.Urls.Select(url => url.Url)];

        var gateway = await UrlsOf("gateway");
        Assert.Contains(gateway, url => url.EndsWith("/scalar", StringComparison.Ordinal));
        Assert.Contains(gateway, url => url.EndsWith("/openapi/v1.json", StringComparison.Ordinal));
        Assert.Contains(await UrlsOf("python-inference"), url => url.EndsWith("/docs", StringComparison.Ordinal));

        // Each link answers: Scalar's page, the OpenAPI document, FastAPI's docs, RabbitMQ's management UI.
        using var http = new HttpClient { Timeout = AppHostFixture.StepTimeout };
        foreach (var url in gateway.Where(url => url.EndsWith("/scalar", StringComparison.Ordinal) || url.EndsWith(".json", StringComparison.Ordinal))
                     .Concat((await UrlsOf("python-inference")).Where(url => url.EndsWith("/docs", StringComparison.Ordinal)))
                     .Concat((await UrlsOf("messaging")).Where(url => url.StartsWith("http", StringComparison.Ordinal))))
        {
            using var page = await http.GetAsync(url, TestContext.Current.CancellationToken);
            Assert.True(page.IsSuccessStatusCode, $"{url}: {(int)page.StatusCode}");
        }
    }

    [Fact]
    public void Every_operator_command_asks_for_confirmation_first()
    {
        var model = stack.App.Services.GetRequiredService<DistributedApplicationModel>();
        var commands = model.Resources.Where(r => r.Name is "worker" or "python-inference")
            .SelectMany(r => r.Annotations.OfType<ResourceCommandAnnotation>())
            .Where(c => c.Name is "pause-jobs" or "resume-jobs" or "replay-dead-letters" or "switch-model-version")
            .ToList();

        Assert.Equal(4, commands.Count);
        Assert.All(commands, command => Assert.False(string.IsNullOrWhiteSpace(command.ConfirmationMessage), command.Name));
    }

    [Fact]
    public async Task Switching_the_model_version_from_the_dashboard_switches_python_and_is_in_the_audit_log()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var python = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http") };
        using var worker = await stack.AuditReaderAsync();
        await WaitUntilAsync(async () => (await stack.Gateway.GetAsync("/api/v1/models/sentiment/versions", timeout.Token)).IsSuccessStatusCode, timeout.Token);

        var unknown = await SwitchAsync("9.9.9", timeout.Token);
        Assert.False(unknown.Success);
        Assert.Contains("404", unknown.Message, StringComparison.Ordinal);
        try
        {
            var switched = await SwitchAsync("2.0.0", timeout.Token);
            Assert.True(switched.Success, switched.Message);
            Assert.Equal("sentiment now serves version 2.0.0.", switched.Message);
            await WaitUntilAsync(async () => await ServedVersionAsync(python, timeout.Token) == "2.0.0", timeout.Token);
            // The audit log records the activation from the events exchange, moments after python-inference switched.
            var activation = default(JsonElement);
            await WaitUntilAsync(async () =>
            {
                var activations = await worker.GetFromJsonAsync<JsonElement>("/v1/audit/events?type=model.activated", timeout.Token);
                activation = activations.EnumerateArray().Last().GetProperty("data");
                return activation.GetProperty("version").GetString() == "2.0.0";
            }, timeout.Token);
            Assert.Equal("2.0.0", activation.GetProperty("version").GetString());
            // The command's token is the dashboard's own: the Worker knows who switched it.
            Assert.Equal("dashboard", activation.GetProperty("activatedBy").GetProperty("service").GetString());
        }
        finally
        {
            Assert.True((await SwitchAsync("1.0.0", timeout.Token)).Success);
            await WaitUntilAsync(async () => await ServedVersionAsync(python, timeout.Token) == "1.0.0", timeout.Token);
        }
    }

    [Fact]
    public async Task The_dashboards_key_is_admin_only_and_its_commands_fail_cleanly_when_the_worker_refuses()
    {
        var key = await stack.ParameterValueAsync("worker-token-key-dashboard", TestContext.Current.CancellationToken);
        using var dashboard = stack.WorkerClient(WorkerTokens.Create("dashboard", key, "dashboard", "admin jobs predict registry.register"));

        var consumption = await dashboard.GetAsync("/v1/admin/consumption", TestContext.Current.CancellationToken);
        var jobs = await dashboard.GetAsync("/v1/jobs", TestContext.Current.CancellationToken);
        var versions = await dashboard.GetAsync("/v1/registry/models/sentiment/versions", TestContext.Current.CancellationToken);
        // The dashboard's key cannot speak for the gateway.
        using var forged = stack.WorkerClient(WorkerTokens.Create("gateway", key, "alice", "admin"));
        var asGateway = await forged.GetAsync("/v1/admin/consumption", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, consumption.StatusCode);
        await Problems.AssertProblemAsync(jobs, HttpStatusCode.Forbidden, "insufficient_scope");
        await Problems.AssertProblemAsync(versions, HttpStatusCode.Forbidden, "insufficient_scope");
        await Problems.AssertProblemAsync(asGateway, HttpStatusCode.Unauthorized, "invalid_token");
    }

    private Task<ExecuteCommandResult> SwitchAsync(string version, CancellationToken cancellationToken) =>
        Commands.ExecuteCommandAsync("python-inference", "switch-model-version", new InteractionInputCollection(
        [
            new InteractionInput { Name = "model", InputType = InputType.Text, Value = "sentiment" },
            new InteractionInput { Name = "version", InputType = InputType.Text, Value = version },
        ]), cancellationToken);

    private static async Task<string?> ServedVersionAsync(HttpClient python, CancellationToken cancellationToken)
    {
        var response = await python.PostAsJsonAsync("/v1/predict", new { model = "sentiment", inputs = new[] { "fine" } }, cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("version").GetString();
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken cancellationToken)
    {
        while (!await condition())
        {
            await Task.Delay(200, cancellationToken);
        }
    }
}
