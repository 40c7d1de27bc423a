namespace AppHost.Tests;

/// <summary>
/// The SQLite stack's tests that stop, kill, pause or reconfigure its services: one after another, each alone on the
/// stack (<see cref="SqliteStackGateAttribute"/>), queued after the stack's other tests and beside the PostgreSQL ones
/// (<see cref="StackCollectionOrderer"/>).
/// </summary>
[CollectionDefinition(nameof(OutageTests))]
public sealed class OutageCollection;

/// <summary>Stops real resources, so it runs alone on the stack and restores what it stopped.</summary>
[Collection(nameof(OutageTests))]
public sealed class OutageTests(AppHostFixture stack)
{
    [Fact]
    public async Task Python_inference_stopped_gives_503_problem_not_a_500_or_a_hang()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(AppHostFixture.StartTimeout);

        await stack.StopResourceAsync("python-inference", timeout.Token);
        try
        {
            var started = DateTime.UtcNow;
            var response = await stack.Gateway.GetAsync("/predict?text=hello", timeout.Token);
            await Problems.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "the 503 should come quickly");

            var models = await stack.Gateway.GetAsync("/api/v1/models", timeout.Token);
            await Problems.AssertProblemAsync(models, HttpStatusCode.ServiceUnavailable, "upstream_unavailable");
        }
        finally
        {
            await stack.StartResourceAsync("python-inference", timeout.Token);
        }

        var recovered = await stack.Gateway.GetAsync("/predict?text=lovely", timeout.Token);
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
    }
}
