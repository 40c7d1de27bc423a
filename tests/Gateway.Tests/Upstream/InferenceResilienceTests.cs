using System.Net.Http.Json;
using Gateway.Extensions;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Gateway.Tests.Upstream;

/// <summary>
/// python-inference's HTTP client with its real resilience pipeline over a scripted network: a call whose connection
/// failed, or whose answer broke off after its headers, is retried, a call that timed out is not (the first attempt may still be running), and every upstream
/// client opens at most the configured number of connections per server.
/// </summary>
public sealed class InferenceResilienceTests
{
    private sealed class ScriptedInference(Func<CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        private int _attempts;

        public int Attempts => _attempts;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _attempts);
            return answer(cancellationToken);
        }
    }

    private static ServiceProvider Services(ScriptedInference inference)
    {
        var services = new ServiceCollection().AddLogging().AddMetrics().AddSingleton<Microsoft.Extensions.Hosting.InferenceCallMetrics>();
        services.AddOptions<InferenceOptions>().Configure(o =>
            (o.AttemptTimeout, o.TotalTimeout, o.MaxRetryAttempts, o.RetryBaseDelay) =
            (TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(20), 2, TimeSpan.Zero));
        services.AddHttpClient<IInferenceClient, HttpInferenceClient>(http => http.BaseAddress = new Uri("http://python-inference.test"))
            .AddInferenceResilience().ConfigurePrimaryHttpMessageHandler(() => inference);
        return services.BuildServiceProvider();
    }

    private static Task<Gateway.Application.Outcome<PredictionResponse>> PredictAsync(IServiceProvider services) =>
        services.GetRequiredService<IInferenceClient>().PredictAsync(
            new PredictionRequest("sentiment", [JsonSerializer.SerializeToElement("fine")]), TestContext.Current.CancellationToken);

    [Fact]
    public async Task A_prediction_that_timed_out_is_not_retried_and_is_504()
    {
        var inference = new ScriptedInference(async cancellationToken =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.OK);
        });
        await using var services = Services(inference);

        var outcome = await PredictAsync(services);

        Assert.Equal(1, inference.Attempts);
        Assert.Equal(504, outcome.Problem?.Status);
        Assert.Equal("upstream_timeout", outcome.Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task A_5xx_answer_is_not_retried()
    {
        var inference = new ScriptedInference(_ => Task.FromResult(new HttpResponseMessage(HttpStatusCode.InternalServerError)));
        await using var services = Services(inference);

        var outcome = await PredictAsync(services);

        Assert.Equal(1, inference.Attempts);
        Assert.Equal(502, outcome.Problem?.Status);
    }

    [Fact]
    public async Task A_prediction_whose_connection_broke_is_retried()
    {
        var inference = new ScriptedInference(_ => throw new HttpRequestException("Connection reset by peer"));
        await using var services = Services(inference);

        var outcome = await PredictAsync(services);

        Assert.Equal(3, inference.Attempts);
        Assert.Equal("upstream_unavailable", outcome.Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task A_prediction_whose_answer_broke_off_after_its_headers_is_retried_and_gets_the_next_answer()
    {
        var attempt = 0;
        var inference = new ScriptedInference(_ => Task.FromResult(Interlocked.Increment(ref attempt) == 1
            ? new HttpResponseMessage(HttpStatusCode.OK)
            {
                // python-inference died while sending it
                Content = new StreamContent(new BrokenOffStream("{\"model\":\"sentiment\",\"predictions\":[{"u8.ToArray())),
            }
            : new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = JsonContent.Create(new { model = "sentiment", version = "1.0.0", predictions = new[] { new { label = "positive", score = 0.9 } } }),
            }));
        await using var services = Services(inference);

        var outcome = await PredictAsync(services);

        Assert.Equal(2, inference.Attempts);
        Assert.True(outcome.Problem is null, $"{outcome.Problem?.Status} {outcome.Problem?.Detail}");
        Assert.Equal("positive", outcome.Value!.Predictions[0].Label);
    }

    [Fact]
    public async Task A_prediction_whose_answer_broke_off_on_every_attempt_is_503_upstream_unavailable()
    {
        var inference = new ScriptedInference(_ => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StreamContent(new BrokenOffStream("{\"model\":"u8.ToArray())),
        }));
        await using var services = Services(inference);

        var outcome = await PredictAsync(services);

        Assert.Equal(3, inference.Attempts);
        Assert.Equal(503, outcome.Problem?.Status);
        Assert.Equal("upstream_unavailable", outcome.Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task Once_python_inference_refuses_connections_predictions_fail_at_once_without_connecting()
    {
        var inference = new ScriptedInference(_ => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused"));
        await using var services = Services(inference);
        var first = await PredictAsync(services);
        Assert.Equal(1, inference.Attempts); // a refused connection is not retried
        await PredictAsync(services);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var outcomes = new List<Gateway.Application.Outcome<PredictionResponse>> { first };
        for (var i = 0; i < 20; i++)
        {
            outcomes.Add(await PredictAsync(services));
        }

        Assert.Equal(2, inference.Attempts); // the second refusal opened the breaker: nothing connected since
        Assert.All(outcomes, outcome => Assert.Equal("upstream_unavailable", outcome.Problem?.Extensions["code"]?.ToString()));
        Assert.All(outcomes, outcome => Assert.Equal(503, outcome.Problem?.Status));
        Assert.True(clock.Elapsed < UpstreamExtensions.DownProbeInterval, $"20 predictions took {clock.Elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Predictions_succeed_again_within_a_probe_interval_of_python_inference_coming_back()
    {
        var down = true;
        var inference = new ScriptedInference(_ => Volatile.Read(ref down)
            ? throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused")
            : Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = JsonContent.Create(new { model = "sentiment", version = "1.0.0", predictions = new[] { new { label = "positive", score = 0.9 } } }),
            }));
        await using var services = Services(inference);
        await PredictAsync(services);
        Assert.Equal(503, (await PredictAsync(services)).Problem?.Status);

        Volatile.Write(ref down, false);
        await Task.Delay(UpstreamExtensions.DownProbeInterval + TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken);

        var outcome = await PredictAsync(services);
        Assert.Null(outcome.Problem);
    }

    [Fact]
    public async Task Timeouts_do_not_open_the_down_breaker()
    {
        var inference = new ScriptedInference(async cancellationToken =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.OK);
        });
        await using var services = Services(inference);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(504, (await PredictAsync(services)).Problem?.Status);
        }

        Assert.Equal(3, inference.Attempts); // each call reached python-inference: slow is not down
    }

    [Theory]
    [InlineData("Http", nameof(IInferenceClient))]
    [InlineData("Http", nameof(IJobsClient))]
    [InlineData("Http", nameof(IRegistryClient))]
    [InlineData("Http", nameof(IWebhookKeysClient))]
    [InlineData("Grpc", "InferenceClient")]
    public void Each_upstream_client_opens_at_most_the_configured_connections_per_server(string transport, string client)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["UpstreamLimits:MaxConnectionsPerServer"] = "7",
            ["Inference:Transport"] = transport,
        });
        builder.AddUpstreamClients();
        using var host = builder.Build();

        HttpMessageHandler handler = host.Services.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(client);
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler!;
        }

        Assert.Equal(7, Assert.IsType<SocketsHttpHandler>(handler).MaxConnectionsPerServer);
    }
}
