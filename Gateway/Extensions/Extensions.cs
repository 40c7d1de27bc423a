using Gateway.Inference;
using Gateway.Jobs;
using Microsoft.Extensions.Http.Resilience;

// ServiceDefaults gives every client the standard resilience handler; the two clients here replace it with
// their own settings, which needs RemoveAllResilienceHandlers (still marked experimental).
#pragma warning disable EXTEXP0001

namespace Gateway.Extensions;

public static class Extensions
{
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi();

        builder.Services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<JobsOptions>()
            .BindConfiguration(JobsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        var inferenceSettings = builder.Configuration.GetSection(InferenceOptions.SectionName).Get<InferenceOptions>()
                                ?? new InferenceOptions();
        builder.Services.AddHttpClient<IInferenceClient, HttpInferenceClient>(http =>
                http.BaseAddress = inferenceSettings.BaseAddress)
            // Predictions are pure functions of their input, so retrying them is safe; short, bounded delays
            // keep "python-inference is down" a quick 503 rather than a long wait.
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler(resilience =>
            {
                resilience.AttemptTimeout.Timeout = inferenceSettings.AttemptTimeout;
                resilience.TotalRequestTimeout.Timeout = inferenceSettings.TotalTimeout;
                resilience.CircuitBreaker.SamplingDuration = inferenceSettings.AttemptTimeout * 2;
                resilience.Retry.MaxRetryAttempts = inferenceSettings.MaxRetryAttempts;
                resilience.Retry.Delay = inferenceSettings.RetryBaseDelay;
            });

        var jobsAddress = builder.Configuration.GetSection(JobsOptions.SectionName).Get<JobsOptions>()?.BaseAddress
                          ?? new JobsOptions().BaseAddress;
        builder.Services.AddHttpClient<IJobsClient, HttpJobsClient>(http => http.BaseAddress = jobsAddress)
            // A retried submission could queue the same job twice, so only reads are retried.
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler(resilience => resilience.Retry.DisableForUnsafeHttpMethods());

        return builder;
    }
}
