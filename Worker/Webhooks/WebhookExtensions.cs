using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.ServiceDiscovery;

namespace Worker.Webhooks;

public static class WebhookExtensions
{
    public const string HttpClientName = "webhooks";

    /// <summary>
    /// Signed (per owner), SSRF-guarded callback delivery: <see cref="IWebhookSender"/>, the <c>webhooks</c> queue's
    /// consumer that retries through delay queues, and what they need.
    /// </summary>
    public static IHostApplicationBuilder AddWebhooks(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddValidatedOptions<WebhookOptions>(WebhookOptions.SectionName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<CallbackUrlPolicy>();
        builder.Services.AddSingleton<WebhookSigner>();
        builder.Services.AddSingleton<WebhookSigningKeys>();
        builder.Services.AddSingleton<IWebhookSender, WebhookSender>();
        builder.Services.AddSingleton<CallbackHostLimiter>();
        builder.Services.AddSingleton<WebhookMetrics>();
        // Deliveries come off the webhooks queue; the broker and the audit trail are resolved when the first arrives.
        builder.Services.AddHostedService<WebhookConsumer>();

        // No resilience handler: WebhookSender owns the retry loop and the per-attempt timeout.
        builder.Services.AddHttpClient(HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(services =>
                CallbackConnection.CreateHandler(services.GetRequiredService<CallbackUrlPolicy>()))
            // Service discovery rewrites any URL whose host has a "Services:{host}" configuration entry, plain
            // http:// ones included, so a callback to http://python-inference/ would reach the internal service.
            // Callback hosts are the submitters', never service names: this client goes without it.
            .ConfigureAdditionalHttpMessageHandlers((handlers, _) =>
            {
                var serviceDiscovery = typeof(ServiceDiscoveryOptions).Assembly;
                foreach (var handler in handlers.Where(handler => handler.GetType().Assembly == serviceDiscovery).ToList())
                {
                    handlers.Remove(handler);
                }
            });

        return builder;
    }
}
