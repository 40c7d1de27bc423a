using Gateway.Apis;
using Gateway.Extensions;
using Gateway.Rpc;

var builder = WebApplication.CreateBuilder(args);

// Without resilience on every HttpClient: each upstream client states its own (Extensions/UpstreamExtensions.cs).
builder.AddBasicServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseGatewayEdge();
app.MapDefaultEndpoints();
app.MapApiDocumentation();
app.MapPredictionsApi();
app.MapJobsApi();
app.MapWebhooksApi();
app.MapModelRegistryApi();
app.MapAdminApi();
app.MapJsonRpcApi();

app.Run();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
