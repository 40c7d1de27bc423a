using Aspire.Hosting.Testing;

namespace AppHost.Tests;

/// <summary>
/// python-inference and the Worker's registry together: Python registers what it serves, an administrator
/// activates a version through the gateway, and the running Python switches without a restart. Every prediction
/// reports the version that served it, so these tests run alone on the stack.
/// </summary>
[Collection(nameof(OutageTests))]
public sealed class ModelActivationTests(AppHostFixture stack)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    internal static async Task<string?> ServedVersionAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var response = await client.PostAsJsonAsync("/v1/predict", new { model = "sentiment", inputs = new[] { "fine" } }, cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("version").GetString();
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken cancellationToken)
    {
        while (!await condition())
        {
            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Activates a version of the sentiment model through the gateway, as an administrator.</summary>
    internal static async Task ActivateAsync(AppHostFixture stack, string version, CancellationToken cancellationToken)
    {
        using var admin = Admin(stack);
        var response = await admin.PutAsJsonAsync("/api/v1/models/sentiment/active", new { version }, cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"activating {version}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
    }

    private static HttpClient Admin(AppHostFixture stack) =>
        stack.CreateGatewayClient(stack.Tokens.Create(subject: "e2e-admin", scopes: "admin"));

    [Fact]
    public async Task Python_registers_both_sentiment_versions_on_start_up_visible_through_the_gateway()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        JsonElement listed = default;
        await WaitUntilAsync(async () =>
        {
            var response = await stack.Gateway.GetAsync("/api/v1/models/sentiment/versions", timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return false;
            }

            listed = await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
            return listed.GetProperty("versions").GetArrayLength() >= 2;
        }, timeout.Token);

        var versions = listed.GetProperty("versions").EnumerateArray().ToList();
        Assert.Equal(["1.0.0", "2.0.0"], versions.Select(v => v.GetProperty("version").GetString()).Order());
        Assert.All(versions, v => Assert.InRange(v.GetProperty("metrics").GetProperty("held_out_accuracy").GetDouble(), 0.8, 1.0));
        Assert.All(versions, v => Assert.Matches("^[0-9a-f]{64}$", v.GetProperty("artifactSha256").GetString()));
    }

    [Fact]
    public async Task Activating_a_version_through_the_gateway_switches_what_the_running_python_serves()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Long);
        using var python = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http") };
        await WaitUntilAsync(async () => (await stack.Gateway.GetAsync("/api/v1/models/sentiment/versions", timeout.Token)).IsSuccessStatusCode, timeout.Token);
        try
        {
            await ActivateAsync(stack, "2.0.0", timeout.Token);
            await WaitUntilAsync(async () => await ServedVersionAsync(python, timeout.Token) == "2.0.0", timeout.Token);

            var viaGateway = await stack.Gateway.GetFromJsonAsync<JsonElement>("/predict?text=lovely", timeout.Token);
            Assert.Equal("2.0.0", viaGateway.GetProperty("version").GetString());
        }
        finally
        {
            await ActivateAsync(stack, "1.0.0", timeout.Token);
            await WaitUntilAsync(async () => await ServedVersionAsync(python, timeout.Token) == "1.0.0", timeout.Token);
        }
    }

    [Fact]
    public async Task Activating_an_unknown_version_is_404_and_needs_the_admin_scope()
    {
        using var admin = Admin(stack);

        var unknown = await admin.PutAsJsonAsync("/api/v1/models/sentiment/active", new { version = "9.9.9" }, TestContext.Current.CancellationToken);
        var notAdmin = await stack.Gateway.PutAsJsonAsync("/api/v1/models/sentiment/active", new { version = "1.0.0" }, TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(unknown, HttpStatusCode.NotFound, "model_version_not_found");
        await Problems.AssertProblemAsync(notAdmin, HttpStatusCode.Forbidden, "insufficient_scope");
    }
}

/// <summary>
/// The registry with every Worker replica down, on the PostgreSQL stack (gRPC registration). It stops and starts
/// services for about 15 s; among the SQLite stack's outage tests, which run one at a time, it lengthened the
/// suite's longest path, while the PostgreSQL stack's collection ends earlier.
/// </summary>
[Collection(nameof(PostgresCollection))]
public sealed class ModelActivationOutageTests(PostgresStackFixture stack)
{
    [Fact]
    public async Task With_the_worker_down_python_starts_and_serves_and_takes_the_active_version_once_it_is_back()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        using var python = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http") };
        await ModelActivationTests.WaitUntilAsync(async () => (await stack.Gateway.GetAsync("/api/v1/models/sentiment/versions", timeout.Token)).IsSuccessStatusCode, timeout.Token);
        var workers = stack.ReplicasOf("worker");
        await ModelActivationTests.ActivateAsync(stack, "2.0.0", timeout.Token);
        await ModelActivationTests.WaitUntilAsync(async () => await ModelActivationTests.ServedVersionAsync(python, timeout.Token) == "2.0.0", timeout.Token);
        try
        {
            await Task.WhenAll(workers.Select(worker => stack.StopInstanceAsync(worker, timeout.Token)));

            await stack.StopResourceAsync("python-inference", timeout.Token);
            await stack.StartResourceAsync("python-inference", timeout.Token);

            // The registry cannot answer: python-inference serves its default version meanwhile.
            Assert.Equal("1.0.0", await ModelActivationTests.ServedVersionAsync(python, timeout.Token));
        }
        finally
        {
            await Task.WhenAll(workers.Select(worker => stack.StartInstanceAsync(worker, timeout.Token)));
        }

        // Once the Worker is back, python-inference registers and takes the version the registry says is active.
        await ModelActivationTests.WaitUntilAsync(async () => await ModelActivationTests.ServedVersionAsync(python, timeout.Token) == "2.0.0", timeout.Token);
        await ModelActivationTests.ActivateAsync(stack, "1.0.0", timeout.Token);
        await ModelActivationTests.WaitUntilAsync(async () => await ModelActivationTests.ServedVersionAsync(python, timeout.Token) == "1.0.0", timeout.Token);
    }
}
