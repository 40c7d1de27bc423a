using Gateway.Application;
using Gateway.OpenApi;
using Gateway.RateLimiting;
using Gateway.Requests;
using Gateway.Rpc;
using Gateway.Security;

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
        builder.Services.AddValidatedOptions<RequestLimitsOptions>(RequestLimitsOptions.SectionName);
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(KestrelHardLimits.Apply);
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>(KestrelHardLimits.Apply);
        builder.Services.AddRequestDeadline();

        // One use case per capability; the REST endpoints (Apis/) and JSON-RPC methods (Rpc/) are doors onto them.
        builder.Services.AddTransient<PredictionService>();
        builder.Services.AddTransient<JobService>();
        builder.Services.AddTransient<ModelRegistryService>();
        builder.Services.AddTransient<OperationsService>();

        // JSON-RPC: its limits, the method table and the dispatcher. A method's scope is the policy of that name.
        builder.Services.AddValidatedOptions<JsonRpcOptions>(JsonRpcOptions.SectionName);
        builder.Services.AddSingleton(JsonRpcMethods.Create());
        builder.Services.AddSingleton<JsonRpcDispatcher>();

        builder.AddUpstreamClients();
        return builder;
    }
}
