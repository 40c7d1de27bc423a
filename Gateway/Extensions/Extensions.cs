using Gateway.Inference;
using Gateway.Jobs;
using Gateway.OpenApi;
using Gateway.RateLimiting;
using Gateway.Requests;
using Gateway.Rpc;
using Gateway.Security;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

// ServiceDefaults gives every client the standard resilience handler; the two clients here replace it with
// their own settings, which needs RemoveAllResilienceHandlers (still marked experimental).
#pragma warning disable EXTEXP0001

namespace Gateway.Extensions;

public static class Extensions
{
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(openApi =>
        {
            openApi.AddDocumentTransformer<BearerSecurityTransformer>();
            openApi.AddOperationTransformer<BearerSecurityTransformer>();
        });
        builder.AddGatewayAuthentication();
        builder.AddGatewayRateLimiting();
        builder.AddJsonRpc();
        builder.Services.AddOptions<RequestLimitsOptions>()
            .BindConfiguration(RequestLimitsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<JobsOptions>()
            .BindConfiguration(JobsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddHttpClient<IInferenceClient, HttpInferenceClient>((services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<InferenceOptions>>().Value.BaseAddress)
            // Predictions are pure functions of their input, so retrying them is safe; short, bounded delays
            // keep "python-inference is down" a quick 503 rather than a long wait.
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler()
            .Configure((resilience, services) =>
            {
                var settings = services.GetRequiredService<IOptions<InferenceOptions>>().Value;
                resilience.AttemptTimeout.Timeout = settings.AttemptTimeout;
                resilience.TotalRequestTimeout.Timeout = settings.TotalTimeout;
                resilience.CircuitBreaker.SamplingDuration = settings.AttemptTimeout * 2;
                resilience.Retry.MaxRetryAttempts = settings.MaxRetryAttempts;
                resilience.Retry.Delay = settings.RetryBaseDelay;
            });

        builder.Services.AddHttpClient<IJobsClient, HttpJobsClient>((services, http) =>
                http.BaseAddress = services.GetRequiredService<IOptions<JobsOptions>>().Value.BaseAddress)
            // A retried submission could queue the same job twice, so only reads are retried.
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler(resilience => resilience.Retry.DisableForUnsafeHttpMethods());

        return builder;
    }
}
