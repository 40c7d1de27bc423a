using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Worker.Admin;
using Worker.Audit;
using Worker.Events;
using Worker.Inference;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Notifications;
using Worker.Persistence;
using Worker.Registry;
using Worker.Security;
using Worker.Webhooks;

namespace Worker.Extensions;

public static class Extensions
{
    public const string MessagingConnectionName = "messaging";

    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // No connection retries inside the client: each consumer retries on its own back-off and a publish fails fast
        // (503), whereas the client's retries held every caller, /health included, for about two minutes while the
        // broker was down (found by Worker.Tests' BrokerDownAtStartTests).
        // The client's own spans ("publish amq.default", "deliver") are off: RabbitMqPublisher and QueueConsumer write
        // them after the OpenTelemetry messaging conventions, as python-inference does (Messaging/MessagingTelemetry.cs).
        builder.AddRabbitMQClient(MessagingConnectionName, settings =>
        {
            settings.MaxConnectRetryCount = 0;
            settings.DisableTracing = true;
        });

        builder.Services.AddValidatedOptions<JobsOptions>(JobsOptions.SectionName);
        builder.Services.AddValidatedOptions<MessagingOptions>(MessagingOptions.SectionName);
        builder.Services.AddSingleton(TimeProvider.System);

        // Every caller (the gateway for its users, python-inference) signs a short-lived token; scopes per caller.
        builder.AddCallerAuthentication();

        // Storage: jobs, model registry, outbox and audit log share one database, SQLite or PostgreSQL
        // (Database:Provider), migrated before anything below starts.
        builder.AddWorkerDatabase();

        // Use cases, each served by thin faces (Apis/, the gRPC service).
        builder.Services.AddSingleton<JobAdmissions>();
        builder.Services.AddSingleton<JobSubmissions>();
        builder.Services.AddHostedService<JobRetentionSweeper>();
        builder.Services.AddSingleton<ModelRegistry>();

        // Messaging: a confirmed publisher, the outbox relay, and one consumer per queue the Worker owns.
        builder.Services.AddSingleton<IMessagePublisher, RabbitMqPublisher>();
        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddTransient<JobProcessor>();
        builder.Services.AddSingleton<JobMetrics>();
        builder.Services.AddHostedService<BrokerAndOutboxGauges>();
        builder.Services.AddSingleton<JobConsumer>();
        builder.Services.AddHostedService(services => services.GetRequiredService<JobConsumer>());
        builder.AddWebhooks();

        // Events: one queue per concern on the events exchange, each delivery acked once its handlers committed.
        builder.Services.AddSingleton<AuditTrail>();
        builder.Services.AddEventConsumer<AuditConsumer>()
            .OnEveryEvent<AuditTrail>();
        builder.Services.AddEventConsumer<NotificationsConsumer>()
            .On<JobCompletedData, JobOutcomeWebhookHandler>()
            .On<JobFailedData, JobOutcomeWebhookHandler>();
        // Ready (/health) once every consumer above has declared its queues, not merely once the broker answers.
        builder.Services.AddHealthChecks().AddCheck<Health.ConsumersHealthCheck>("consumers");

        // Operations (Apis/AdminApi.cs): the dead-letter queue, pausing the jobs queue on every replica, audited.
        builder.Services.AddSingleton<AdminAudit>();
        builder.Services.AddSingleton<QueueSwitchStore>();
        builder.Services.AddSingleton<DeadLetters>();
        builder.Services.AddSingleton<JobConsumption>();
        builder.Services.AddHostedService(services => services.GetRequiredService<JobConsumption>());

        builder.Services.AddValidatedOptions<InferenceOptions>(InferenceOptions.SectionName);
        builder.AddInferenceClient();

        // The model registry's gRPC service, on its own HTTP/2-only endpoint (GRPC_PORT).
        builder.AddGrpcEndpoint();

        return builder;
    }

    /// <summary>
    /// python-inference over gRPC (the default) or HTTP/JSON (<c>Inference:Transport</c>). Without
    /// <c>IHttpClientFactory</c>'s logging handlers: they wrote four Information lines per model call (start and end
    /// of the logical and the client handler), which every batch of jobs paid to the console and the telemetry; a
    /// call's failure is logged where it is understood (the job's retry, the outage wait).
    /// </summary>
    internal static void AddInferenceClient(this IHostApplicationBuilder builder)
    {
        var transport = builder.Configuration.GetSection(InferenceOptions.SectionName)
            .GetValue(nameof(InferenceOptions.Transport), InferenceTransport.Grpc);
        if (transport == InferenceTransport.Http)
        {
            builder.Services.AddHttpClient<HttpInferenceClient>(nameof(IInferenceClient), (services, http) =>
                    http.BaseAddress = services.GetRequiredService<IOptions<InferenceOptions>>().Value.BaseAddress)
                .RemoveAllLoggers()
                // Retrying is the job queue's business (back-off queues, attempts in headers): one HTTP attempt per
                // delivery, so an outage costs seconds, not the standard handler's retries times four attempts.
                .AddStandardResilienceHandler()
                .Configure((resilience, services) =>
                {
                    var timeout = services.GetRequiredService<IOptions<InferenceOptions>>().Value.AttemptTimeout;
                    resilience.Retry.MaxRetryAttempts = 1;
                    resilience.Retry.Delay = TimeSpan.FromMilliseconds(100);
                    resilience.AttemptTimeout.Timeout = timeout;
                    resilience.CircuitBreaker.SamplingDuration = timeout * 2;
                    resilience.TotalRequestTimeout.Timeout = timeout * 2 + TimeSpan.FromSeconds(1);
                });
            builder.Services.AddTransient<IInferenceClient>(services =>
                WaitingOutOutages(services, services.GetRequiredService<HttpInferenceClient>()));
            return;
        }

        // Deadlines come from each call; the channel retries UNAVAILABLE briefly, the queue does the rest. No HTTP
        // resilience handler: it would time the stream out and retry any status.
        builder.Services.AddGrpcClient<global::Inference.V1.Inference.InferenceClient>((services, client) =>
                client.Address = GrpcAddress(services))
            .ConfigureChannel(channel => channel.ServiceConfig = new ServiceConfig
            {
                MethodConfigs =
                {
                    new MethodConfig
                    {
                        Names = { MethodName.Default },
                        RetryPolicy = new RetryPolicy
                        {
                            MaxAttempts = 3,
                            InitialBackoff = TimeSpan.FromMilliseconds(200),
                            MaxBackoff = TimeSpan.FromSeconds(1),
                            BackoffMultiplier = 2,
                            RetryableStatusCodes = { StatusCode.Unavailable },
                        },
                    },
                },
            })
            .BalancedOverResolvedAddresses(GrpcAddress) // a dns:/// address: every python-inference pod, round-robin
            .RemoveAllLoggers();
        builder.Services.AddSingleton<GrpcInferenceClient>();
        builder.Services.AddSingleton<IInferenceClient>(services =>
            WaitingOutOutages(services, services.GetRequiredService<GrpcInferenceClient>()));
    }

    private static Uri GrpcAddress(IServiceProvider services) =>
        services.GetRequiredService<IOptions<InferenceOptions>>().Value.GrpcAddress;

    /// <summary>Jobs wait for an unreachable python-inference to return instead of spending their attempts on it.</summary>
    private static OutageWaitingInferenceClient WaitingOutOutages(IServiceProvider services, IInferenceClient transport) =>
        new(transport, services.GetRequiredService<IOptions<InferenceOptions>>(), services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<OutageWaitingInferenceClient>>(),
            services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
}
