using ServiceDefaults.Problems;
using Worker.Apis;
using Worker.Extensions;
using Worker.Health;
using Worker.Registry;

var builder = WebApplication.CreateBuilder(args);

// Without resilience on every HttpClient: each client states its own (Extensions/, Webhooks/).
builder.AddBasicServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseProblemDetailsContract();
app.UseAuthentication();
app.UseAuthorization();
app.UseGrpcRequestDecoding();
app.MapDefaultEndpoints();
app.MapJobsApi();
app.MapAuditApi();
app.MapRegistryApi();
app.MapWebhooksApi();
app.MapAdminApi();
app.MapGrpcService<ModelRegistryService>();
app.MapGrpcService<GrpcHealthService>();

app.Run();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
