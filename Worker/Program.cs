using ServiceDefaults.Problems;
using Worker.Apis;
using Worker.Extensions;
using Worker.Health;
using Worker.Registry;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseProblemDetailsContract();
app.MapDefaultEndpoints();
app.MapJobsApi();
app.MapAuditApi();
app.MapRegistryApi();
app.MapWebhooksApi();
app.MapGrpcService<ModelRegistryService>();
app.MapGrpcService<GrpcHealthService>();

app.Run();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
