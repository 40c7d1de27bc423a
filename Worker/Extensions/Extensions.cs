using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Worker.Audit;
using Worker.Inference;
using Worker.Jobs;
using Worker.Messaging;
using Worker.Messaging.Outbox;
using Worker.Notifications;
using Worker.Persistence;
using Worker.Webhooks;

// RemoveAllResilienceHandlers (replacing ServiceDefaults' handler for one client) is still marked experimental.
#pragma warning disable EXTEXP0001

namespace Worker.Extensions;

public static class Extensions
{
    public const string MessagingConnectionName = "messaging";

    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRabbitMQClient(MessagingConnectionName);

        builder.Services.AddOptions<JobsOptions>()
            .BindConfiguration(JobsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<MessagingOptions>()
            .BindConfiguration(MessagingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);

        // Storage: jobs, outbox and audit log share one SQLite database (one transaction for a change and its message).
        builder.Services.AddSingleton<WorkerDatabase>();
        builder.Services.AddSingleton<IOutbox, SqliteOutbox>();
        builder.Services.AddSingleton<IJobStore, SqliteJobStore>();
        builder.Services.AddSingleton<IAuditLog, SqliteAuditLog>();
        builder.Services.AddHostedService<JobStoreInitializer>();

        // Messaging: a confirmed publisher, the outbox relay, and one consumer per queue the Worker owns.
        builder.Services.AddSingleton<IMessagePublisher, RabbitMqPublisher>();
        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddTransient<JobProcessor>();
        builder.Services.AddHostedService<JobConsumer>();
        builder.Services.AddHostedService<AuditConsumer>();
        builder.AddWebhooks();
        builder.Services.AddHostedService<NotificationsConsumer>();

        builder.Services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddHttpClient<IInferenceClient, HttpInferenceClient>((services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<InferenceOptions>>().Value.BaseAddress)
            // Retrying is the job queue's business (back-off queues, attempts in headers): one HTTP attempt per
            // delivery, so an outage costs seconds, not the standard handler's retries times four attempts.
            .RemoveAllResilienceHandlers()
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

        return builder;
    }
}
