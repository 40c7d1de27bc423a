using Gateway.Limits;
using Gateway.Upstream;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Inference.Batching;
using Gateway.Upstream.Worker;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Gateway.Extensions;

/// <summary>
/// The clients of the services behind the gateway, each with its own resilience policy (the service defaults add
/// none): python-inference over HTTP/JSON or gRPC, and the Worker pool for jobs and the model registry.
/// </summary>
public static class UpstreamExtensions
{
    public static IHostApplicationBuilder AddUpstreamClients(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<InferenceOptions>(InferenceOptions.SectionName);
        builder.Services.AddValidatedOptions<JobsOptions>(JobsOptions.SectionName);
        builder.Services.AddValidatedOptions<RegistryOptions>(RegistryOptions.SectionName);
        builder.Services.AddValidatedOptions<WorkerCallOptions>(WorkerCallOptions.SectionName);
        // Every call to the Worker carries a short-lived token signed with the gateway's key, naming the acting user.
        builder.Services.AddValidatedOptions<WorkerTokenOptions>(WorkerTokenOptions.SectionName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WorkerTokens>();

        // In front of every upstream client: how many callers' calls may wait on the services behind the gateway.
        builder.Services.AddValidatedOptions<UpstreamLimitsOptions>(UpstreamLimitsOptions.SectionName);
        builder.Services.AddSingleton<UpstreamConcurrencyLimiter>();

        builder.AddInferenceClient();

        // The Worker is a pool of replicas; WorkerPool says which of its calls are retried and why.
        builder.Services.AddSingleton<JobSubmissionCoalescer>();
        builder.Services.AddHttpClient<IJobsClient, HttpJobsClient>((services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<JobsOptions>>().Value.BaseAddress)
            .AddWorkerPoolResilience().WithConnectionCap();
        builder.Services.AddHttpClient<IRegistryClient, HttpRegistryClient>((services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<RegistryOptions>>().Value.BaseAddress)
            .AddWorkerPoolResilience().WithConnectionCap();
        builder.Services.AddHttpClient<IAdminClient, HttpAdminClient>((services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<RegistryOptions>>().Value.BaseAddress)
            .AddWorkerPoolResilience().WithConnectionCap();
        builder.Services.AddHttpClient<IWebhookKeysClient, HttpWebhookKeysClient>((services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<JobsOptions>>().Value.BaseAddress)
            .AddWorkerPoolResilience().WithConnectionCap();
        return builder;
    }

    /// <summary>
    /// At most <see cref="UpstreamLimitsOptions.MaxConnectionsPerServer"/> connections from this client to one server;
    /// requests beyond them wait for a free one (within their timeouts) instead of opening more.
    /// </summary>
    public static IHttpClientBuilder WithConnectionCap(this IHttpClientBuilder builder, bool multipleHttp2Connections = false) =>
        builder.ConfigurePrimaryHttpMessageHandler((handler, services) =>
        {
            if (handler is SocketsHttpHandler sockets)
            {
                sockets.MaxConnectionsPerServer = services.GetRequiredService<IOptions<UpstreamLimitsOptions>>().Value.MaxConnectionsPerServer;
                // HTTP/2 (gRPC) multiplexes calls on one connection; more open only up to the cap when its streams are full.
                sockets.EnableMultipleHttp2Connections = multipleHttp2Connections;
            }
        });

    /// <summary>
    /// python-inference's HTTP/JSON resilience. Predictions are pure functions of their input, so a call whose
    /// connection broke, or whose answer broke off after its headers (<see cref="WholeAnswerHandler"/>), is retried with
    /// short, bounded delays. A timeout is never retried: the first attempt may still
    /// be running there, and a retry would double the load on a python-inference that is already slow. Nor is an
    /// answer, even 5xx: python-inference has decided.
    /// A refused connection is not retried either: nothing listens there, python-inference is down. The "down" breaker
    /// then fails every attempt at once (503 <c>upstream_unavailable</c> within milliseconds, not after retry delays)
    /// and lets one attempt through every <see cref="DownProbeInterval"/> to notice its return.
    /// </summary>
    public static IHttpClientBuilder AddInferenceResilience(this IHttpClientBuilder builder)
    {
        builder.AddStandardResilienceHandler()
            .Configure((resilience, services) =>
            {
                var settings = services.GetRequiredService<IOptions<InferenceOptions>>().Value;
                resilience.AttemptTimeout.Timeout = settings.AttemptTimeout;
                resilience.TotalRequestTimeout.Timeout = settings.TotalTimeout;
                resilience.CircuitBreaker.SamplingDuration = settings.AttemptTimeout * 2;
                // Refused connections are the down breaker's: this one's 5 s break would hold predictions off after a return.
                var transient = resilience.CircuitBreaker.ShouldHandle;
                resilience.CircuitBreaker.ShouldHandle = async args =>
                    !IsRefusedConnection(args.Outcome.Exception) && await transient(args);
                resilience.Retry.MaxRetryAttempts = Math.Max(settings.MaxRetryAttempts, 1);
                resilience.Retry.Delay = settings.RetryBaseDelay;
                resilience.Retry.ShouldHandle = args => ValueTask.FromResult(settings.MaxRetryAttempts > 0
                    && args.Outcome.Exception is HttpRequestException && !IsRefusedConnection(args.Outcome.Exception));
            });
        // Inside the retries: each attempt passes it.
        builder.AddResilienceHandler("inference-down", pipeline => pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
        {
            // Refusals among the last half second's attempts (at least two attempts, 1 % of them refused) open it.
            FailureRatio = 0.01,
            MinimumThroughput = 2,
            SamplingDuration = TimeSpan.FromMilliseconds(500),
            BreakDuration = DownProbeInterval,
            ShouldHandle = args => ValueTask.FromResult(IsRefusedConnection(args.Outcome.Exception)),
        }));
        // Innermost: each attempt reads its answer whole, so one broken off after its headers is retried too.
        builder.AddHttpMessageHandler(() => new WholeAnswerHandler());
        return builder;
    }

    /// <summary>How often, while python-inference is known to be down, one attempt goes through to see whether it is back.</summary>
    public static readonly TimeSpan DownProbeInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>No process listens there (or none could be reached): not a slow or failing service, an absent one.</summary>
    private static bool IsRefusedConnection(Exception? exception) =>
        exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };

    /// <summary>
    /// python-inference as <see cref="IInferenceClient"/>: single-input predictions through the batcher
    /// (<c>Inference:Batching</c>), then the transport (<c>Inference:Transport</c>).
    /// </summary>
    private static void AddInferenceClient(this IHostApplicationBuilder builder)
    {
        builder.AddInferenceTransport();
        builder.Services.AddValidatedOptions<PredictionBatchingOptions>(PredictionBatchingOptions.SectionName);
        builder.Services.AddSingleton<BatchingMetrics>();
        builder.Services.AddSingleton(services => new PredictionBatcher(
            () => services.GetRequiredKeyedService<IInferenceClient>(InferenceTransportKey),
            services.GetRequiredService<IOptions<PredictionBatchingOptions>>(), services.GetRequiredService<BatchingMetrics>(),
            TimeProvider.System, services.GetRequiredService<ILogger<PredictionBatcher>>()));
        builder.Services.AddTransient<IInferenceClient>(services => new BatchingInferenceClient(
            services.GetRequiredKeyedService<IInferenceClient>(InferenceTransportKey), services.GetRequiredService<PredictionBatcher>()));
    }

    /// <summary>The key of python-inference's transport client, behind the batcher.</summary>
    public const string InferenceTransportKey = "inference-transport";

    /// <summary>python-inference over HTTP/JSON or gRPC (<c>Inference:Transport</c>); both give the same answers.</summary>
    private static void AddInferenceTransport(this IHostApplicationBuilder builder)
    {
        var transport = builder.Configuration.GetSection(InferenceOptions.SectionName)
            .GetValue(nameof(InferenceOptions.Transport), InferenceTransport.Grpc);
        if (transport == InferenceTransport.Grpc)
        {
            builder.Services.AddInferenceGrpcClient<global::Inference.V1.Inference.InferenceClient>();
            builder.Services.AddInferenceGrpcClient<Grpc.Health.V1.Health.HealthClient>();
            builder.Services.AddSingleton<GrpcInferenceDownBreaker>();
            builder.Services.AddKeyedSingleton<IInferenceClient, GrpcInferenceClient>(InferenceTransportKey);
            builder.Services.AddHealthChecks()
                .AddCheck<GrpcInferenceHealthCheck>(GrpcInferenceHealthCheck.Name, HealthStatus.Degraded);
            return;
        }

        builder.Services.AddKeyedTransient<IInferenceClient>(InferenceTransportKey,
            (services, _) => services.GetRequiredService<HttpInferenceClient>());
        // Named as before the batcher came in front of it, so its logs and metrics keep their names.
        builder.Services.AddHttpClient<HttpInferenceClient>(nameof(IInferenceClient), (services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<InferenceOptions>>().Value.BaseAddress)
            .AddInferenceResilience()
            .WithConnectionCap()
            .WithoutFactoryLogging();
    }

    /// <summary>
    /// Without <c>IHttpClientFactory</c>'s two logging handlers. They log only at Information (start, end, failure),
    /// below the Warning that <c>Gateway/appsettings.json</c> sets for <c>System.Net.Http.HttpClient</c>, yet open a
    /// logging scope and format the redacted URI on every call: per-prediction work with no output. Failures are logged
    /// where they are understood
    /// (<see cref="Upstream.UpstreamCalls"/>, <see cref="Upstream.GrpcUpstreamCalls"/>, the resilience events).
    /// </summary>
    public static IHttpClientBuilder WithoutFactoryLogging(this IHttpClientBuilder builder) => builder.RemoveAllLoggers();

    /// <summary>
    /// A gRPC client on the discovered <c>grpc</c> endpoint, or balanced over every address of a <c>dns:///</c> one
    /// (a Kubernetes headless Service: <see cref="GrpcBalancing"/>). Deadlines come from each call, and so do retries
    /// (<see cref="Upstream.GrpcRetries"/>): the channel's own retry policy would retry a refused connection too, with
    /// its back-off, and an HTTP resilience handler would time out streams and retry any status, so it has neither.
    /// </summary>
    private static void AddInferenceGrpcClient<TClient>(this IServiceCollection services) where TClient : class =>
        services.AddGrpcClient<TClient>((provider, client) => client.Address = GrpcAddress(provider))
            .BalancedOverResolvedAddresses(GrpcAddress)
            .WithConnectionCap(multipleHttp2Connections: true)
            .WithoutFactoryLogging();

    private static Uri GrpcAddress(IServiceProvider services) =>
        services.GetRequiredService<IOptions<InferenceOptions>>().Value.GrpcAddress;
}
