using Microsoft.Extensions.Options;
using Worker.Inference;
using Worker.Jobs;
using Worker.Messaging;

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
        builder.Services.AddSingleton(TimeProvider.System);

        builder.Services.AddSingleton<IJobStore, SqliteJobStore>();
        builder.Services.AddHostedService<JobStoreInitializer>();
        builder.Services.AddSingleton<IJobPublisher, RabbitMqJobPublisher>();
        builder.Services.AddTransient<JobProcessor>();
        builder.Services.AddHostedService<JobConsumer>();

        builder.Services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddHttpClient<IInferenceClient, HttpInferenceClient>((services, http) =>
            http.BaseAddress = services.GetRequiredService<IOptions<InferenceOptions>>().Value.BaseAddress);

        return builder;
    }
}
